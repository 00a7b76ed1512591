import type { BlockBackend } from "./backend/block-backend.ts";
import type { VolumeSpec } from "./nbd/exports.ts";
import { rawFormat } from "./backend/raw.ts";
import { qcow2Format } from "./qcow2/format.ts";
import type { VolumeFormat } from "./volume-format.ts";

/** The image formats of a store whose backing files must stay inside `roots`. */
export function volumeFormats(roots: string[]): Record<VolumeSpec["format"], VolumeFormat> {
  return { raw: rawFormat, qcow2: qcow2Format(roots) };
}

/** Opens a volume's image as described by its spec (used by the I/O workers). */
export function openVolume(spec: VolumeSpec): BlockBackend {
  return volumeFormats(spec.roots)[spec.format].open(spec.path, spec.readOnly);
}
