import { rawFormat } from "./raw.ts";
import { qcow2Format } from "../qcow2/backing-chain.ts";
import type { BlockBackend } from "./block-backend.ts";
import type { FormatName, VolumeFormat } from "./volume-format.ts";

/** How to open a volume's image (plain data: it crosses to the I/O workers' threads). */
export interface VolumeSpec {
  format: FormatName;
  path: string;
  readOnly: boolean;
  /** Directories backing files must stay inside. */
  roots: string[];
}

/** The image formats of a store whose backing files must stay inside `roots`. */
export function volumeFormats(roots: string[]): Record<FormatName, VolumeFormat> {
  return { raw: rawFormat, qcow2: qcow2Format(roots) };
}

/** Opens a volume's image, with its backing chain, as described by its spec. */
export function openVolume(spec: VolumeSpec): BlockBackend {
  return volumeFormats(spec.roots)[spec.format].open(spec.path, spec.readOnly);
}
