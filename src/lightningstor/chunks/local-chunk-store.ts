import { closeSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeSync } from "node:fs";
import { mkdir, open, rename, rm, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { blockCrcs, type BlockChecksums } from "../../util/checked-range.ts";
import { crc32OfBlocks } from "../../util/crc32-combine.ts";
import { fsyncDir, openForReading, syncDirectory } from "../../util/fs.ts";
import { newChunkId } from "./chunk-ids.ts";
import { BLOCK_SIZE, chunkTrailer, parseLayout, readLayout } from "./chunk-file.ts";
import { isDiskFull } from "../../db/disk-reserve.ts";
import { assertChunkId, ChunkCorruptError, ChunkStoreFullError, type ChunkFileRange, type ChunkInfo, type ChunkStore } from "./chunk-store.ts";

/**
 * Largest single write(2). Measured here: one 4 MiB write into the page cache
 * costs 7 ms, the same bytes in 1 MiB writes 0.8 ms.
 */
const WRITE_SLICE = 1024 * 1024;

/**
 * Chunks as files under `<dir>/<first two hex digits>/<id>`, each written to a
 * temporary name, fsynced, renamed and its directory fsynced before `put`
 * resolves; the data's CRC32 and the CRC32 of each 64 KiB block follow it
 * (chunk-file.ts), and every read is checked against them.
 */
export class LocalChunkStore implements ChunkStore {
  /** The data dir is always there to write to (a full disk is a put's own error). */
  writable(): boolean {
    return true;
  }

  /** Subdirectories, each ready (created, its entry durable) once its promise resolves; a mkdir per chunk is measurable. */
  private readonly subdirs = new Map<string, Promise<void>>();

  constructor(private readonly dir: string) {
    if (mkdirSync(dir, { recursive: true, mode: 0o750 }) !== undefined) fsyncDir(dirname(dir));
  }

  /** Creates a subdirectory once; a new one's entry is fsynced before any chunk goes in. */
  private subdir(id: string): Promise<string> {
    const path = join(this.dir, id.slice(0, 2));
    let ready = this.subdirs.get(path);
    if (!ready) {
      ready = mkdir(path, { recursive: true, mode: 0o750 }).then((created) => (created === undefined ? undefined : syncDirectory(this.dir)));
      ready.catch(() => this.subdirs.delete(path)); // a failure is retried by the next put
      this.subdirs.set(path, ready);
    }
    return ready.then(() => path);
  }

  private pathOf(id: string): string {
    assertChunkId(id);
    return join(this.dir, id.slice(0, 2), id);
  }

  /** A plain UUID: a standalone gateway's data dir is its own, swept against its own database. */
  newId(): string {
    return newChunkId();
  }

  async put(id: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array): Promise<ChunkInfo> {
    const path = this.pathOf(id);
    const subdir = await this.subdir(id);
    if (existsSync(path)) throw new Error(`chunk ${id} already exists`);
    // Unique: a chained PUT that bypassed a stalled hop can meet that hop's own write of the same chunk here.
    const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    const file = await open(tmp, "wx", 0o640);
    let size = 0;
    let crc = 0;
    // The CRC32 of each whole block so far, and of the block being written.
    const blocks: number[] = [];
    let blockCrc = 0;
    try {
      // Writes into the page cache are synchronous: they take well under a
      // millisecond per MiB, less than a trip through the thread pool, and
      // keep up with the network. The fsync, which waits for the disk, is not.
      const writeAll = (piece: Uint8Array) => {
        for (let done = 0; done < piece.length; ) done += writeSync(file.fd, piece, done, Math.min(WRITE_SLICE, piece.length - done));
      };
      // One pass of CRC32 over the data: the chunk's CRC32 is combined from its blocks'.
      const write = (piece: Uint8Array) => {
        writeAll(piece);
        for (let at = 0; at < piece.length; ) {
          const take = Math.min(BLOCK_SIZE - (size % BLOCK_SIZE), piece.length - at);
          blockCrc = Bun.hash.crc32(piece.subarray(at, at + take), blockCrc);
          at += take;
          size += take;
          if (size % BLOCK_SIZE === 0) {
            blocks.push(blockCrc >>> 0);
            blockCrc = 0;
          }
        }
      };
      if (data instanceof Uint8Array) write(data);
      else if (Symbol.iterator in data) for (const piece of data) write(piece);
      else for await (const piece of data) write(piece);
      if (size % BLOCK_SIZE !== 0) blocks.push(blockCrc >>> 0);
      crc = crc32OfBlocks(blocks, BLOCK_SIZE, size);
      writeAll(chunkTrailer(crc, blocks));
      await file.sync();
    } catch (err) {
      await file.close();
      await rm(tmp, { force: true });
      if (isDiskFull(err)) throw new ChunkStoreFullError(id, `${this.dir}: ${(err as Error).message}`);
      throw err;
    }
    await file.close();
    await rename(tmp, path);
    await syncDirectory(subdir);
    return { id, size, crc32: crc >>> 0 };
  }

  async get(id: string): Promise<Buffer | undefined> {
    let buf: Buffer;
    try {
      // Bun reads files on its thread pool, so a 16 MiB chunk does not stall other requests.
      const bytes = await Bun.file(this.pathOf(id)).bytes();
      buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return undefined;
      throw err;
    }
    const { size, crc32, blocks } = parseLayout(id, buf);
    const data = buf.subarray(0, size);
    // The block table is checked too: a damaged table would fail every streamed read of an intact chunk.
    const expected = blockCrcs(data, blocks.blockSize);
    const actual = crc32OfBlocks(expected, blocks.blockSize, size);
    if (actual !== crc32) throw new ChunkCorruptError(id, `crc32 ${actual.toString(16)} != ${crc32.toString(16)}`);
    if (expected.some((crc, i) => crc !== blocks.crcs[i])) throw new ChunkCorruptError(id, "the block checksums do not match the data");
    return data;
  }

  /** A chunk's file (its first `size` bytes are the chunk) with its size, CRC32 and block checksums; undefined when absent. */
  async localFile(id: string): Promise<(ChunkInfo & { path: string; blocks: BlockChecksums }) | undefined> {
    const fd = this.openFd(id);
    if (fd === undefined) return undefined;
    try {
      const { size, crc32, blocks } = readLayout(id, fd, true);
      return { id, size, crc32, blocks, path: this.pathOf(id) };
    } finally {
      closeSync(fd);
    }
  }

  /** Always a part of the chunk's file, each block checked against its CRC32 before it is sent. */
  async open(id: string, from: number, to: number): Promise<ChunkFileRange | undefined> {
    const file = await this.localFile(id);
    return file && { kind: "file", path: file.path, offset: from, length: to - from, check: file.blocks };
  }

  async stat(id: string): Promise<ChunkInfo | undefined> {
    const fd = this.openFd(id);
    if (fd === undefined) return undefined;
    try {
      const { size, crc32 } = readLayout(id, fd, false);
      return { id, size, crc32 };
    } finally {
      closeSync(fd);
    }
  }

  async delete(id: string): Promise<boolean> {
    const path = this.pathOf(id);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return false;
      throw err;
    }
    await syncDirectory(join(this.dir, id.slice(0, 2)));
    return true;
  }

  /** Every chunk held (temporary files of writes under way are not chunks yet), with when it was written. */
  list(): { id: string; mtimeMs: number }[] {
    return readdirSync(this.dir).flatMap((sub) =>
      readdirSync(join(this.dir, sub))
        .filter((name) => !name.endsWith(".tmp"))
        .flatMap((id) => {
          const stat = statSync(join(this.dir, sub, id), { throwIfNoEntry: false }); // deleted meanwhile: gone
          return stat ? [{ id, mtimeMs: stat.mtimeMs }] : [];
        }),
    );
  }

  /**
   * Reads every chunk back and deletes those that no longer match their CRC32
   * — on a storage node, the gateway then rewrites them from an intact copy.
   * Waits `pauseMs` after each chunk, so foreground I/O keeps the disk.
   * Returns the ids removed.
   */
  async scrub(pauseMs = 0): Promise<string[]> {
    const damaged: string[] = [];
    for (const { id } of this.list()) {
      try {
        await this.get(id);
      } catch (err) {
        if (!(err instanceof ChunkCorruptError)) throw err;
        await this.delete(id);
        damaged.push(id);
      }
      if (pauseMs > 0) await Bun.sleep(pauseMs);
    }
    return damaged;
  }

  /**
   * Removes what a crash can leave behind: temporary files and chunks no
   * object or part refers to (an interrupted upload's). Run at start, before any
   * request is served. Returns how many were removed.
   */
  sweep(isReferenced: (id: string) => boolean): number {
    let removed = 0;
    for (const sub of readdirSync(this.dir)) {
      const subdir = join(this.dir, sub);
      for (const name of readdirSync(subdir)) {
        if (isReferenced(name)) continue;
        rmSync(join(subdir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  private openFd(id: string): number | undefined {
    try {
      return openForReading(this.pathOf(id));
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return undefined;
      throw err;
    }
  }
}
