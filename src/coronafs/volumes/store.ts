import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import { isDiskFull } from "../../db/disk-reserve.ts";
import { openMetadataDb, type MetadataDb } from "../../db/open.ts";
import { ensureDir, fsyncDir } from "../../util/fs.ts";
import type { Logger } from "../../util/log.ts";
import type { BlockBackend } from "../backend/block-backend.ts";
import { foreignFormatAdvice, foreignFormatOfFile } from "../backend/foreign-format.ts";
import type { VolumeSpec } from "../backend/open-volume.ts";
import type { FormatName, VolumeFormat } from "../backend/volume-format.ts";
import { coronafsMigrations } from "../migrations/index.ts";
import type { ExportInfo, ExportProvider } from "../nbd/exports.ts";
import { detectImageFormat } from "../qcow2/header.ts";
import { setBackingFile } from "../qcow2/set-backing.ts";
import * as schema from "../schema.ts";
import type { VolumeRow } from "../schema.ts";
import { VolumeError } from "./errors.ts";

/** Volume names: what NBD export names and URLs carry safely. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const nameRule = "1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";
/** Largest volume accepted (64 TiB): beyond it, offsets lose precision in places that matter. */
export const maxVolumeSize = 2 ** 46;

/** How {@link VolumeStore.adopt} takes in a new volume's file. */
export interface AdoptOptions {
  /** The image format; detected from the file when undefined. */
  format?: FormatName;
  /** The volume of this store the image (a qcow2 overlay) is rebased onto. */
  backing?: VolumeRow;
  /** Replace an existing volume of the name, unless it is in use (then: conflict). */
  replace?: { inUse(): boolean };
  /** How the file came, for the log line (default `imported`). */
  origin?: "imported" | "materialized";
  /** Said in the log line, e.g. the source a volume was materialized from. */
  logDetail?: Record<string, unknown>;
}

/** What a client asks for when creating a volume. */
export interface CreateVolume {
  name: string;
  sizeBytes: number;
  format: "raw" | "qcow2";
  backing?: string;
}

/**
 * The volumes of one nbd-export: files under `<data-dir>/volumes/` named by
 * id, metadata in SQLite. It is also the NBD server's export provider; the
 * images themselves are opened by the I/O workers (see nbd/volume-workers.ts).
 */
export class VolumeStore implements ExportProvider {
  readonly dir: string;
  private readonly meta: MetadataDb<typeof schema>;

  constructor(
    dataDir: string,
    private readonly log: Logger,
    private readonly formats: Partial<Record<FormatName, VolumeFormat>>,
  ) {
    this.dir = join(dataDir, "volumes");
    ensureDir(this.dir);
    this.meta = openMetadataDb(join(dataDir, "nbd-export.db"), schema, coronafsMigrations);
  }

  list(): VolumeRow[] {
    return this.meta.db.select().from(schema.volumes).orderBy(asc(schema.volumes.name)).all();
  }

  get(name: string): VolumeRow | undefined {
    return this.meta.db.select().from(schema.volumes).where(eq(schema.volumes.name, name)).get();
  }

  mustGet(name: string): VolumeRow {
    const row = this.get(name);
    if (!row) throw VolumeError.notFound(`volume "${name}" does not exist`);
    return row;
  }

  /** The absolute path of a volume's file. */
  pathOf(row: VolumeRow): string {
    return join(this.dir, row.file);
  }

  /** Creates a volume: the file is made durable first, then the row is committed. */
  create(request: CreateVolume): VolumeRow {
    if (!namePattern.test(request.name)) throw VolumeError.invalid("name", nameRule);
    if (!Number.isSafeInteger(request.sizeBytes) || request.sizeBytes <= 0 || request.sizeBytes > maxVolumeSize) {
      throw VolumeError.invalid("size", `must be between 1 byte and ${maxVolumeSize} bytes`);
    }
    if (this.get(request.name)) throw VolumeError.conflict(`volume "${request.name}" already exists`);
    const backing = request.backing === undefined ? undefined : this.get(request.backing);
    if (request.backing !== undefined && !backing) throw VolumeError.invalid("backing", `volume "${request.backing}" does not exist`);
    if (backing && request.format !== "qcow2") throw VolumeError.invalid("format", "a volume with a backing volume must be qcow2");
    const format = this.formats[request.format];
    if (!format) throw VolumeError.invalid("format", `format ${request.format} is not available`);
    // The space held back for deletes must be in place first: a new volume never takes the last of the disk.
    if (!this.meta.reserve.ensure()) throw VolumeError.insufficientStorage(`no space left for volume "${request.name}"`);

    const id = crypto.randomUUID();
    const row: VolumeRow = {
      name: request.name,
      id,
      format: request.format,
      sizeBytes: request.sizeBytes,
      backing: backing?.name ?? null,
      file: `${id}.${request.format}`,
      readOnly: false,
      createdAt: new Date(),
    };
    const path = this.pathOf(row);
    try {
      format.create(path, row.sizeBytes, backing && { file: backing.file, format: backing.format });
      fsyncDir(this.dir);
      this.meta.db.insert(schema.volumes).values(row).run();
    } catch (err) {
      rmSync(path, { force: true });
      if (isDiskFull(err)) throw VolumeError.insufficientStorage(`no space left for volume "${request.name}"`);
      throw err;
    }
    this.log.info("volume created", { volume: row.name, format: row.format, size: row.sizeBytes, backing: row.backing });
    return row;
  }

  /**
   * A volume from a file `fill` writes: a temporary file in the store,
   * fsynced; for an overlay, its header pointed at `backing`'s file; opened
   * as `format` (detected when undefined) with its backing chain — so a bad
   * image is refused with its reason — then renamed into place and recorded.
   * With `replace`, an existing volume of that name is replaced in one step:
   * the new file renamed in, the row updated in one transaction, the old
   * file removed after.
   */
  async adopt(name: string, options: AdoptOptions, fill: (fd: number) => Promise<void>): Promise<VolumeRow> {
    if (!namePattern.test(name)) throw VolumeError.invalid("name", nameRule);
    const { backing, replace } = options;
    if (backing && backing.name === name) throw VolumeError.invalid("backing", "a volume cannot be its own backing volume");
    this.checkReplaceable(name, replace);
    const id = crypto.randomUUID();
    const tmp = join(this.dir, `.import-${id}`);
    const fd = openSync(tmp, "wx", 0o640);
    try {
      await fill(fd);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      if ((err as { code?: string }).code === "ENOSPC") throw VolumeError.insufficientStorage(`no space left for volume "${name}"`);
      throw err;
    }
    closeSync(fd);
    try {
      const foreign = options.format === undefined ? foreignFormatOfFile(tmp) : undefined;
      // Taken as raw, it would be a disk of the wrong size holding the other format's metadata.
      if (foreign) throw VolumeError.invalid("body", foreignFormatAdvice(foreign));
      const format = options.format ?? detectImageFormat(tmp);
      const opener = this.formats[format];
      if (!opener) throw VolumeError.invalid("format", `format ${format} is not available`);
      if (backing && format !== "qcow2") throw VolumeError.invalid("format", "an image with a backing volume must be qcow2");
      let sizeBytes: number;
      try {
        if (backing) {
          setBackingFile(tmp, { file: backing.file, format: backing.format });
        }
        // An overlay opens with its chain (inside the store); anything else must stand alone.
        const backend = opener.open(tmp, true, !backing);
        sizeBytes = backend.size;
        backend.close();
      } catch (err) {
        throw VolumeError.invalid("body", `not a usable ${format} ${backing ? "overlay" : "image"}: ${(err as Error).message}`);
      }
      if (sizeBytes <= 0) throw VolumeError.invalid("body", "image is empty");
      const row: VolumeRow = { name, id, format, sizeBytes, backing: backing?.name ?? null, file: `${id}.${format}`, readOnly: false, createdAt: new Date() };
      const old = this.checkReplaceable(name, replace);
      renameSync(tmp, this.pathOf(row));
      fsyncDir(this.dir);
      try {
        this.meta.db.transaction((tx) => {
          const current = tx.select().from(schema.volumes).where(eq(schema.volumes.name, name)).get();
          if (current?.id !== old?.id) throw VolumeError.conflict(`volume "${name}" changed during the import`);
          if (old) tx.update(schema.volumes).set({ ...row, createdAt: old.createdAt }).where(eq(schema.volumes.name, name)).run();
          else tx.insert(schema.volumes).values(row).run();
        });
      } catch (err) {
        rmSync(this.pathOf(row), { force: true });
        throw err;
      }
      if (old) {
        rmSync(this.pathOf(old), { force: true });
        fsyncDir(this.dir);
      }
      const event = old ? "volume replaced" : `volume ${options.origin ?? "imported"}`;
      this.log.info(event, { volume: name, format, size: sizeBytes, backing: row.backing, ...options.logDetail });
      return old ? { ...row, createdAt: old.createdAt } : row;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /** The existing volume `name` when `replace` allows replacing it; undefined when there is none. */
  private checkReplaceable(name: string, replace: AdoptOptions["replace"]): VolumeRow | undefined {
    const old = this.get(name);
    if (!old) return undefined;
    if (!replace) throw VolumeError.conflict(`volume "${name}" already exists`);
    const dependents = this.list().filter((v) => v.backing === name);
    if (dependents.length > 0) throw VolumeError.conflict(`volume "${name}" backs ${dependents.map((v) => v.name).join(", ")}; it cannot be replaced`);
    if (replace.inUse()) throw VolumeError.conflict(`volume "${name}" has open NBD connections; disconnect them before replacing it`);
    return old;
  }

  /** A volume's file as stored, for exporting it. */
  imageOf(name: string): { row: VolumeRow; path: string; bytes: number; readOnly: boolean } {
    const row = this.mustGet(name);
    const path = this.pathOf(row);
    return { row, path, bytes: statSync(path).size, readOnly: this.specOf(row).readOnly };
  }

  /** Grows a volume (the caller makes sure no client has it open: they cache the size). */
  resize(name: string, sizeBytes: number): VolumeRow {
    const row = this.mustGet(name);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes > maxVolumeSize) throw VolumeError.invalid("size", "invalid size");
    if (sizeBytes < row.sizeBytes) throw VolumeError.invalid("size", `shrinking is not supported (current size ${row.sizeBytes})`);
    const format = this.formats[row.format];
    if (!format) throw VolumeError.invalid("format", `format ${row.format} is not available`);
    format.grow(this.pathOf(row), sizeBytes);
    const grown = this.meta.db.update(schema.volumes).set({ sizeBytes }).where(eq(schema.volumes.name, name)).returning().get();
    this.log.info("volume resized", { volume: name, from: row.sizeBytes, size: sizeBytes });
    return grown;
  }

  /** Deletes a volume (the caller has disconnected its clients). Refused while it backs others. */
  delete(name: string): void {
    const row = this.mustGet(name);
    const dependents = this.list().filter((v) => v.backing === name);
    if (dependents.length > 0) throw VolumeError.conflict(`volume "${name}" backs ${dependents.map((v) => v.name).join(", ")}`);
    // On a full disk the row's delete uses the space held back beside the database (db/disk-reserve.ts).
    this.meta.reserve.freeing(() => this.meta.db.delete(schema.volumes).where(eq(schema.volumes.name, name)).run());
    rmSync(this.pathOf(row), { force: true });
    fsyncDir(this.dir);
    this.log.info("volume deleted", { volume: name });
  }

  /** How to open a volume's image. A volume that backs overlays is read-only: writing it would corrupt them. */
  specOf(row: VolumeRow): VolumeSpec {
    const backsOthers = this.meta.db.select({ name: schema.volumes.name }).from(schema.volumes).where(eq(schema.volumes.backing, row.name)).get();
    return { format: row.format, path: this.pathOf(row), readOnly: row.readOnly || backsOthers !== undefined, roots: [this.dir] };
  }

  listExports(): { name: string; description: string }[] {
    return this.list().map((v) => ({ name: v.name, description: describe(v) }));
  }

  /** Opens the image read-only just long enough to vet it (hostile images fail here) and read its size. */
  describe(name: string): ExportInfo | undefined {
    const row = this.get(name);
    if (!row) return undefined;
    const spec = this.specOf(row);
    const format = this.formats[row.format];
    if (!format) throw new Error(`format ${row.format} is not available`);
    const backend = format.open(spec.path, true);
    const size = backend.size;
    backend.close();
    return { name, description: describe(row), size, readOnly: spec.readOnly, spec };
  }

  close(): void {
    this.meta.close();
  }
}

function describe(row: VolumeRow): string {
  return `${row.format} volume${row.backing ? ` backed by ${row.backing}` : ""}`;
}
