import type { FormatName } from "../backend/volume-format.ts";
import type { VolumeRow } from "../schema.ts";
import { VolumeError } from "./errors.ts";
import { writeSparse } from "./sparse-write.ts";
import { maxVolumeSize, type VolumeStore } from "./store.ts";

/** How an uploaded image becomes a volume. */
export interface ImportOptions {
  /** raw or qcow2; detected from the bytes when undefined. */
  format?: FormatName;
  /** Name of a volume of this store: the image is a qcow2 overlay, rebased onto it. */
  backing?: string;
  /** Replace an existing volume of the name (refused while it is in use). */
  replace?: { inUse(): boolean };
}

/**
 * Creates (or replaces) a volume from an uploaded image. The bytes are
 * streamed to a temporary file with runs of zeros left as holes, fsynced;
 * an overlay's header is pointed at its backing volume's file here; the
 * image is opened — so a hostile qcow2 header is refused with its reason —
 * and only then renamed into place and recorded (see VolumeStore.adopt).
 */
export async function importImage(store: VolumeStore, name: string, body: AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<VolumeRow> {
  let backing: VolumeRow | undefined;
  if (options.backing !== undefined) {
    backing = store.get(options.backing);
    if (!backing) throw VolumeError.invalid("backing", `volume "${options.backing}" does not exist`);
    if (options.format === "raw") throw VolumeError.invalid("format", "an image with a backing volume must be qcow2");
  }
  return store.adopt(name, { format: options.format, backing, replace: options.replace }, async (fd) => {
    await writeSparse(fd, body, maxVolumeSize);
  });
}
