import type { VolumeSpec } from "../backend/open-volume.ts";

/** What the handshake tells a client about an export. */
export interface ExportInfo {
  name: string;
  description: string;
  size: number;
  readOnly: boolean;
  spec: VolumeSpec;
}

/** What the NBD server serves: the volume store implements it. */
export interface ExportProvider {
  listExports(): { name: string; description: string }[];
  /** Describes an export; undefined when there is none. Throws when its image cannot be opened. */
  describe(name: string): ExportInfo | undefined;
}

/** Block size constraints advertised with NBD_INFO_BLOCK_SIZE. */
export const blockSizes = { minimum: 1, preferred: 4096, maximum: 32 * 1024 * 1024 } as const;
