import type { BlockBackend } from "../backend/block-backend.ts";

/** An export opened for one connection; `release` when the connection ends. */
export interface OpenExport {
  name: string;
  description: string;
  backend: BlockBackend;
  release(): void;
}

/** What the NBD server serves: the volume store implements it. */
export interface ExportProvider {
  listExports(): { name: string; description: string }[];
  /** Opens an export; undefined when there is no such export. Throws when it cannot be opened. */
  open(name: string): OpenExport | undefined;
}

/** Block size constraints advertised with NBD_INFO_BLOCK_SIZE. */
export const blockSizes = { minimum: 1, preferred: 4096, maximum: 32 * 1024 * 1024 } as const;
