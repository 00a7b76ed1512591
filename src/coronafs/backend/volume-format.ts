import type { BlockBackend } from "./block-backend.ts";

/** The image formats a volume can have. */
export type FormatName = "raw" | "qcow2";

/** An image format the store can create and open. */
export interface VolumeFormat {
  /** Creates the image file durably; `backing` is a file name inside the same directory. */
  create(path: string, sizeBytes: number, backing?: { file: string; format: FormatName }): void;
  /** Opens an image; with `standalone`, an image naming a backing file is refused. */
  open(path: string, readOnly: boolean, standalone?: boolean): BlockBackend;
  /** Grows an image that nobody has open, durably. */
  grow(path: string, sizeBytes: number): void;
}
