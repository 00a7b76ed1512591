import { asc, eq } from "drizzle-orm";
import type { StoreDb } from "../../db/store-db.ts";
import type { VolumeClient } from "../../coronafs/client.ts";
import { ApiError } from "../../http/admin-client.ts";
import type { Logger } from "../../util/log.ts";
import { conflict, invalid, notFound, PlasmaError } from "../errors.ts";
import { checkName } from "../names.ts";
import type * as schema from "../schema.ts";
import type { ImageRow } from "../schema.ts";
import type { ArtifactStore } from "./artifact-store.ts";
import { ImageFormatError, ImageInspector } from "./inspect.ts";

/** Where an image's bytes come from. */
export type ImageSource =
  | { kind: "upload"; body: ReadableStream<Uint8Array>; label: string; size?: number }
  | { kind: "url"; url: string }
  | { kind: "s3"; bucket: string; key: string };

/** Parses `--from`: an http(s) URL or an s3://bucket/key URI (a local file is uploaded by the CLI). */
export function parseRemoteSource(from: string): ImageSource {
  if (/^https?:\/\//.test(from)) return { kind: "url", url: from };
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(from);
  if (s3) return { kind: "s3", bucket: s3[1]!, key: s3[2]! };
  throw invalid("from", `expected an http(s):// URL or s3://BUCKET/KEY, got "${from}"`);
}

/**
 * PlasmaVMC images (CreateImage): the artifact goes into a LightningStor
 * bucket as it streams in, its digest, format and virtual size learned on the
 * way; the row is committed only once the artifact is stored and inspected.
 * On first use, `ensureBase` turns the artifact into a raw base in the
 * central CoronaFS store, once however many clones ask at the same time.
 */
export class ImageService {
  private readonly creating = new Set<string>();
  private readonly basesBuilding = new Map<string, Promise<string>>();

  constructor(
    private readonly store: StoreDb<typeof schema>,
    private readonly artifacts: ArtifactStore | undefined,
    private readonly central: VolumeClient | undefined,
    private readonly log: Logger,
  ) {}

  private get db() {
    return this.store.db;
  }

  private get tables() {
    return this.store.tables;
  }

  list(): Promise<ImageRow[]> {
    const { images } = this.tables;
    return this.db.select().from(images).orderBy(asc(images.name));
  }

  private async find(name: string): Promise<ImageRow | undefined> {
    const { images } = this.tables;
    const [row] = await this.db.select().from(images).where(eq(images.name, name));
    return row;
  }

  async get(name: string): Promise<ImageRow> {
    const row = await this.find(name);
    if (!row) throw notFound(`image "${name}"`);
    return row;
  }

  private requireArtifacts(): ArtifactStore {
    if (!this.artifacts) throw new PlasmaError("unavailable", "the controller has no S3 endpoint for image artifacts (start it with --s3-endpoint and --s3-key-file)");
    return this.artifacts;
  }

  requireCentral(): VolumeClient {
    if (!this.central) throw new PlasmaError("unavailable", "the controller has no CoronaFS export (start it with --coronafs URL of the nbd-export's admin API)");
    return this.central;
  }

  /** Stores an artifact and records the image; `onProgress` sees the bytes read so far. */
  async create(name: string, source: ImageSource, onProgress?: (bytes: number) => void): Promise<ImageRow> {
    checkName("name", name);
    const artifacts = this.requireArtifacts();
    if (this.creating.has(name) || (await this.find(name))) throw conflict(`image "${name}" already exists`);
    this.creating.add(name);
    try {
      const started = performance.now();
      const { body, label } = await this.open(source, artifacts);
      const inspector = new ImageInspector();
      const id = crypto.randomUUID();
      const key = `images/${name}/${id}`;
      try {
        await artifacts.put(key, body.pipeThrough(inspector.tap()), onProgress);
      } catch (err) {
        throw new PlasmaError("failed", `storing the artifact in s3://${artifacts.config.bucket}/${key} failed: ${(err as Error).message}`);
      }
      let facts;
      try {
        facts = inspector.facts();
      } catch (err) {
        await artifacts.delete(key).catch((cleanup: Error) => this.log.warn("could not delete a refused artifact", { key, err: cleanup }));
        if (err instanceof ImageFormatError) throw invalid("image", err.message);
        throw err;
      }
      const row: ImageRow = { name, id, ...facts, bucket: artifacts.config.bucket, key, source: label, baseVolume: null, createdAt: new Date() };
      await this.store.write((db) => db.insert(this.tables.images).values(row));
      this.log.info("image created", { image: name, format: row.format, virtualSize: row.virtualSize, bytes: row.artifactSize, ms: Math.round(performance.now() - started) });
      return row;
    } finally {
      this.creating.delete(name);
    }
  }

  private async open(source: ImageSource, artifacts: ArtifactStore): Promise<{ body: ReadableStream<Uint8Array>; label: string }> {
    switch (source.kind) {
      case "upload":
        return { body: source.body, label: source.label };
      case "url": {
        const response = await fetch(source.url).catch((err: Error) => {
          throw invalid("from", `cannot fetch ${source.url}: ${err.message}`);
        });
        if (!response.ok || !response.body) throw invalid("from", `${source.url} answered ${response.status}`);
        return { body: response.body, label: source.url };
      }
      case "s3": {
        const object = await artifacts.get(source.key, source.bucket).catch((err: Error) => {
          throw invalid("from", `cannot read s3://${source.bucket}/${source.key}: ${err.message}`);
        });
        return { body: object.body, label: `s3://${source.bucket}/${source.key}` };
      }
    }
  }

  /** Deletes an image: refused while volumes were cloned from it; its base and artifact go with it. */
  async delete(name: string, dropBase: (base: string) => Promise<void>): Promise<void> {
    const row = await this.get(name);
    const { images, managedVolumes } = this.tables;
    const users = await this.db.select({ name: managedVolumes.name }).from(managedVolumes).where(eq(managedVolumes.image, name));
    if (users.length > 0) throw conflict(`image "${name}" is used by volume(s) ${users.map((u) => u.name).join(", ")}; delete them first`);
    // The base and the artifact go first: if either cannot, the image is still there to delete again.
    const base = row.baseVolume;
    const sharedBase = (await this.db.select().from(images).where(eq(images.baseVolume, base ?? ""))).length > 1;
    if (base && !sharedBase) await dropBase(base);
    await this.requireArtifacts()
      .delete(row.key)
      .catch((err: Error) => {
        throw new PlasmaError("failed", `deleting the artifact s3://${row.bucket}/${row.key} failed: ${err.message}`);
      });
    await this.store.write((db) => db.delete(images).where(eq(images.name, name)));
    this.log.info("image deleted", { image: name });
  }

  /** The name of the image's raw base in the central store, building it on first use. */
  async ensureBase(name: string): Promise<string> {
    const row = await this.get(name);
    // A recorded base that someone deleted by hand is built again rather than failing every clone.
    if (row.baseVolume && (await this.requireCentral().get(row.baseVolume).then(() => true, (err) => !(err instanceof ApiError && err.status === 404)))) return row.baseVolume;
    let building = this.basesBuilding.get(row.sha256);
    if (!building) {
      building = this.buildBase(row).finally(() => this.basesBuilding.delete(row.sha256));
      this.basesBuilding.set(row.sha256, building);
    }
    const base = await building;
    const { images } = this.tables;
    await this.store.write((db) => db.update(images).set({ baseVolume: base }).where(eq(images.name, name)));
    return base;
  }

  /**
   * Streams the artifact into the central store: a raw artifact becomes the
   * base directly (the import keeps runs of zeros as holes); a qcow2 one is
   * imported, then materialized into a raw volume through the exporter's own
   * qcow2 reader and the import dropped.
   */
  private async buildBase(row: ImageRow): Promise<string> {
    const central = this.requireCentral();
    const base = `base-${row.sha256.slice(0, 16)}`;
    const existing = await central.get(base).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    });
    if (existing) return base; // another image with the same bytes, or a build the controller did not get to record
    const started = performance.now();
    const artifact = await this.requireArtifacts().get(row.key, row.bucket);
    if (row.format === "raw") {
      await central.importStream(base, artifact.body, { format: "raw", size: artifact.size });
    } else {
      const staging = `staging-${row.sha256.slice(0, 16)}-${crypto.randomUUID().slice(0, 8)}`;
      const imported = await central.importStream(staging, artifact.body, { format: "qcow2", size: artifact.size });
      try {
        const source = imported.uris.tcp;
        if (!source) throw new PlasmaError("unavailable", "the central CoronaFS export has no TCP listener to read the image from");
        await central.create({ name: base, source });
      } finally {
        await central.delete(staging, true);
      }
    }
    this.log.info("image base built", { image: row.name, base, ms: Math.round(performance.now() - started) });
    return base;
  }
}
