import { eq } from "drizzle-orm";
import type { StoreDb } from "../../db/store-db.ts";
import type { VolumeInfo } from "../../coronafs/volumes/json.ts";
import { ApiError } from "../../http/admin-client.ts";
import type { Logger } from "../../util/log.ts";
import { parseSize } from "../../util/size.ts";
import { conflict, invalid, notFound, PlasmaError } from "../errors.ts";
import type { ImageService } from "../images/image-service.ts";
import { checkName } from "../names.ts";
import type * as schema from "../schema.ts";
import type { ManagedVolumeRow } from "../schema.ts";

/** A volume as the controller shows it: the central export's view plus what the controller knows. */
export type ManagedVolumeInfo = VolumeInfo & { image: string | null; vm: string | null; node: string | null };

/** What CreateVolume takes. */
export interface CreateVolumeRequest {
  name: string;
  size?: number | string;
  format?: "raw" | "qcow2";
  backing?: string;
  image?: string;
}

/**
 * Volumes in the central CoronaFS store, created through the controller:
 * blank ones, and image-backed ones — a qcow2 overlay on the image's raw
 * base, so every clone after the first is one small file (CreateVolume's
 * fast path). The controller records which image, VM and node each is tied to.
 */
export class VolumeService {
  constructor(
    private readonly store: StoreDb<typeof schema>,
    private readonly images: ImageService,
    private readonly log: Logger,
  ) {}

  private async row(name: string): Promise<ManagedVolumeRow | undefined> {
    const { managedVolumes } = this.store.tables;
    const [row] = await this.store.db.select().from(managedVolumes).where(eq(managedVolumes.name, name));
    return row;
  }

  private async record(fields: Omit<ManagedVolumeRow, "createdAt">): Promise<void> {
    await this.store.write((db) => db.insert(this.store.tables.managedVolumes).values({ ...fields, createdAt: new Date() }));
  }

  private async set(name: string, fields: Partial<ManagedVolumeRow>): Promise<void> {
    const { managedVolumes } = this.store.tables;
    await this.store.write((db) => db.update(managedVolumes).set(fields).where(eq(managedVolumes.name, name)));
  }

  private async info(volume: VolumeInfo): Promise<ManagedVolumeInfo> {
    const row = await this.row(volume.name);
    return { ...volume, image: row?.image ?? null, vm: row?.vm ?? null, node: row?.node ?? null };
  }

  async create(request: CreateVolumeRequest): Promise<ManagedVolumeInfo & { ms: number }> {
    const started = performance.now();
    checkName("name", request.name);
    const size = request.size === undefined ? undefined : parseSize(request.size);
    if (request.size !== undefined && (size === undefined || size <= 0)) throw invalid("size", `expected bytes or a size like 10G, got "${request.size}"`);
    const central = this.images.requireCentral();
    if (await this.row(request.name)) throw conflict(`volume "${request.name}" already exists`);
    let volume: VolumeInfo;
    if (request.image !== undefined) {
      if (request.format === "raw" || request.backing !== undefined) throw invalid("image", "an image-backed volume is a qcow2 overlay on the image's base: give no format or backing");
      const image = await this.images.get(request.image);
      if (size !== undefined && size < image.virtualSize) throw invalid("size", `smaller than the image's virtual size (${image.virtualSize} bytes)`);
      const base = await this.images.ensureBase(image.name);
      volume = await forward(() => central.create({ name: request.name, format: "qcow2", backing: base, size: size ?? image.virtualSize }));
    } else {
      if (size === undefined) throw invalid("size", "required (or an image to clone)");
      volume = await forward(() => central.create({ name: request.name, size, format: request.format, backing: request.backing }));
    }
    await this.record({ name: volume.name, sizeBytes: volume.sizeBytes, format: volume.format, image: request.image ?? null, vm: null, node: null });
    const ms = Math.round((performance.now() - started) * 10) / 10;
    this.log.info("volume created", { volume: volume.name, image: request.image, ms });
    return { ...(await this.info(volume)), ms };
  }

  async list(): Promise<ManagedVolumeInfo[]> {
    return Promise.all((await forward(() => this.images.requireCentral().list())).map((v) => this.info(v)));
  }

  async get(name: string): Promise<ManagedVolumeInfo> {
    return this.info(await forward(() => this.images.requireCentral().get(name)));
  }

  /** The controller's record of a volume; not-found when it does not manage it. */
  async managed(name: string): Promise<ManagedVolumeRow> {
    const row = await this.row(name);
    if (!row) throw notFound(`volume "${name}"`);
    return row;
  }

  /** Ties a volume to a VM (one writer at a time) and to the node holding its data. */
  async attach(name: string, vm: string): Promise<void> {
    const row = await this.managed(name);
    if (row.vm !== null && row.vm !== vm) throw conflict(`volume "${name}" is attached to VM "${row.vm}"`);
    await this.set(name, { vm });
  }

  /** Records where a volume's current data is: a node while its VM runs, or the central store (null). */
  placeOn(name: string, node: string | null): Promise<void> {
    return this.set(name, { node });
  }

  async resize(name: string, size: number | string): Promise<ManagedVolumeInfo> {
    const row = await this.row(name);
    if (row?.node) throw conflict(`volume "${name}" is in use on ${row.node}; stop its VM first`);
    return this.info(await forward(() => this.images.requireCentral().resize(name, size)));
  }

  /** Deletes a volume; `missingOk` (a VM's delete being retried) takes a volume already gone as deleted. */
  async delete(name: string, options: { force?: boolean; detach?: boolean; missingOk?: boolean } = {}): Promise<void> {
    const row = await this.row(name);
    if (row?.vm && !options.detach) throw conflict(`volume "${name}" is attached to VM "${row.vm}"; delete the VM first`);
    await forward(() => this.images.requireCentral().delete(name, options.force ?? false)).catch((err) => {
      if (!(err instanceof PlasmaError && err.kind === "not-found" && (row || options.missingOk))) throw err; // already gone from the store: drop the record
    });
    const { managedVolumes } = this.store.tables;
    await this.store.write((db) => db.delete(managedVolumes).where(eq(managedVolumes.name, name)));
    this.log.info("volume deleted", { volume: name });
  }

  /** Uploads an image file as a plain volume (forwarded to the central export as a stream). */
  async importImage(name: string, body: ReadableStream<Uint8Array>, format: "raw" | "qcow2" | undefined, size?: number): Promise<ManagedVolumeInfo> {
    checkName("name", name);
    if (await this.row(name)) throw conflict(`volume "${name}" already exists`);
    const volume = await forward(() => this.images.requireCentral().importStream(name, body, { format, size }));
    await this.record({ name, sizeBytes: volume.sizeBytes, format: volume.format, image: null, vm: null, node: null });
    return this.info(volume);
  }
}

/** Runs a call to another Photon API, turning its problem answer into a PlasmaVMC error that keeps the message. */
export async function forward<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ApiError)) throw new PlasmaError("unavailable", `a Photon service did not answer: ${(err as Error).message}`);
    const detail = err.problem?.detail ?? err.message;
    if (err.status === 404) throw new PlasmaError("not-found", detail);
    if (err.status === 409) throw new PlasmaError("conflict", detail);
    if (err.status === 400) {
      const field = (err.problem as { field?: string } | undefined)?.field;
      throw new PlasmaError("invalid", field && detail.startsWith(`${field}: `) ? detail.slice(field.length + 2) : detail, field);
    }
    throw new PlasmaError("failed", detail);
  }
}
