import { realpathSync, writeSync } from "node:fs";
import { createFileDurably } from "../../util/fs.ts";
import { dirname, resolve, sep } from "node:path";
import type { BlockBackend } from "../backend/block-backend.ts";
import { RawBackend } from "../backend/raw.ts";
import type { VolumeFormat } from "../backend/volume-format.ts";
import { buildImage, detectImageFormat, Qcow2FormatError, type Qcow2Header } from "./header.ts";
import { Qcow2Image } from "./image.ts";

/** Backing chains deeper than this are refused (they are loops or abuse). */
const MAX_CHAIN_DEPTH = 16;

/**
 * qcow2 volumes. Backing files are resolved relative to the image and must
 * stay inside `roots` (the store's directories): a name escaping the store,
 * a missing file, a loop or an over-deep chain is a clear error at open.
 */
export function qcow2Format(roots: string[]): VolumeFormat {
  return {
    create(path, sizeBytes, backing) {
      const image = buildImage({ size: sizeBytes, backingFile: backing?.file, backingFormat: backing?.format });
      createFileDurably(path, (fd) => writeSync(fd, image));
    },
    grow(path, sizeBytes) {
      const image = openChain(path, false, roots.map((r) => realpathSync(r)), new Set()) as Qcow2Image;
      try {
        image.grow(sizeBytes);
      } finally {
        image.close();
      }
    },
    open(path, readOnly, standalone) {
      if (standalone) return new Qcow2Image(path, readOnly);
      return openChain(path, readOnly, roots.map((r) => realpathSync(r)), new Set());
    },
  };
}

function openChain(path: string, readOnly: boolean, roots: string[], seen: Set<string>): BlockBackend {
  const real = realpathSync(path);
  seen.add(real);
  return new Qcow2Image(path, readOnly, (header) => openBacking(real, header, roots, seen));
}

function openBacking(imagePath: string, header: Qcow2Header, roots: string[], seen: Set<string>): BlockBackend {
  const name = header.backingFile!;
  let real: string;
  try {
    real = realpathSync(resolve(dirname(imagePath), name));
  } catch {
    throw new Qcow2FormatError(`backing file "${name}" does not exist`);
  }
  if (!roots.some((root) => real.startsWith(root + sep))) throw new Qcow2FormatError(`backing file "${name}" is outside the volume store`);
  if (seen.has(real)) throw new Qcow2FormatError(`backing file "${name}" forms a loop`);
  if (seen.size >= MAX_CHAIN_DEPTH) throw new Qcow2FormatError(`backing chain deeper than ${MAX_CHAIN_DEPTH}`);
  const format = header.backingFormat ?? detectImageFormat(real);
  if (format === "raw") return new RawBackend(real, true);
  if (format === "qcow2") return openChain(real, true, roots, seen);
  throw new Qcow2FormatError(`backing file format "${format}" is not supported`);
}
