import { foreignFormatAdvice, PROBE_BYTES, recognizeForeignFormat } from "../../coronafs/backend/foreign-format.ts";
import { parseHeader, QCOW2_MAGIC, Qcow2FormatError } from "../../coronafs/qcow2/header.ts";

/** What an image artifact is, learned while it streams past. */
export interface ImageFacts {
  format: "raw" | "qcow2";
  virtualSize: number;
  artifactSize: number;
  sha256: string;
}

/** An artifact that cannot be a VM image, with the reason. */
export class ImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageFormatError";
  }
}

/** How much of the start is kept for the header (a qcow2 header and its extensions fit in the first cluster it allows, 2 MiB at most). */
const HEAD_BYTES = 2 * 1024 * 1024;

/**
 * Watches an artifact's bytes go by: their sha256, their count, and the head
 * that tells raw from qcow2. `facts()` at the end parses a qcow2 header with
 * Photon's own reader (so hostile headers are refused as the exporter would)
 * and refuses images that depend on a backing file.
 */
export class ImageInspector {
  private readonly hash = new Bun.CryptoHasher("sha256");
  private readonly head = Buffer.alloc(HEAD_BYTES);
  private headLength = 0;
  /** The last PROBE_BYTES bytes seen: some formats (fixed VHD, DMG) are known by a footer. */
  private tail: Uint8Array = new Uint8Array(0);
  private size = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    if (this.headLength < HEAD_BYTES) {
      const take = Math.min(chunk.length, HEAD_BYTES - this.headLength);
      this.head.set(chunk.subarray(0, take), this.headLength);
      this.headLength += take;
    }
    this.size += chunk.length;
    this.tail = chunk.length >= PROBE_BYTES ? chunk.slice(chunk.length - PROBE_BYTES) : Buffer.concat([this.tail, chunk]).subarray(-PROBE_BYTES);
  }

  /** A stream that passes bytes through unchanged, inspecting them. */
  tap(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        this.update(chunk);
        controller.enqueue(chunk);
      },
    });
  }

  get bytes(): number {
    return this.size;
  }

  facts(): ImageFacts {
    if (this.size === 0) throw new ImageFormatError("the image is empty");
    const head = this.head.subarray(0, this.headLength);
    const sha256 = this.hash.digest("hex");
    const foreign = recognizeForeignFormat(head, this.tail);
    if (foreign) throw new ImageFormatError(foreignFormatAdvice(foreign));
    if (head.length < 4 || head.readUInt32BE(0) !== QCOW2_MAGIC) {
      if (this.size % 512 !== 0) throw new ImageFormatError(`a raw image must be a whole number of 512-byte sectors (got ${this.size} bytes)`);
      return { format: "raw", virtualSize: this.size, artifactSize: this.size, sha256 };
    }
    let header;
    try {
      header = parseHeader(head, this.size);
    } catch (err) {
      if (err instanceof Qcow2FormatError) throw new ImageFormatError(err.message);
      throw err;
    }
    if (header.backingFile !== undefined) throw new ImageFormatError(`qcow2: the image depends on a backing file (${header.backingFile}); flatten it with qemu-img convert -O qcow2 first`);
    return { format: "qcow2", virtualSize: header.size, artifactSize: this.size, sha256 };
  }
}
