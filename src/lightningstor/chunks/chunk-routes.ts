import { Hono } from "hono";
import { problems } from "../../http/problem.ts";
import { blockEnd, blockStart } from "../../util/checked-range.ts";
import { chainHop, type ChainHopContext } from "./chain-hop.ts";
import { FrameError } from "./chain-frames.ts";
import { BLOCKS_HEADER, CHAIN_HEADER, CHAIN_PROGRESS_HEADER, CRC_HEADER, formatBlocks, formatCrc, parseChain, parseCrc } from "./chunk-protocol.ts";
import { assertChunkId, ChunkStoreFullError, type ChunkInfo } from "./chunk-store.ts";
import type { LocalChunkStore } from "./local-chunk-store.ts";

/**
 * A storage node's chunk API (`/v1/chunks`, cluster token): the s3-gateway's
 * replicas live here. PUT stores a chunk durably (fsynced and renamed before
 * the answer) and refuses it if it does not match the CRC32 the sender
 * computed, or with 507 when the node's disk is full; a PUT with CHAIN_HEADER
 * stores it and forwards it along the chain (chain-hop.ts), answering one line
 * per node; GET sends it as stored, with the CRC32 and block checksums it was
 * stored with, for the reader to check (a `range: bytes=A-B` is widened to
 * whole blocks and answered 206 with its `content-range`); GET / lists the
 * chunks held, for garbage collection.
 */
export function chunkRoutes(store: LocalChunkStore, chaining?: Omit<ChainHopContext, "store">): Hono {
  const app = new Hono();
  const validId = (id: string) => {
    try {
      assertChunkId(id);
    } catch (err) {
      throw problems.badRequest((err as Error).message);
    }
    return id;
  };
  const infoHeaders = (info: ChunkInfo) => ({ [CRC_HEADER]: formatCrc(info.crc32), "content-length": String(info.size) });

  app.get("/", (c) => c.json({ chunks: store.list().map(({ id, mtimeMs }) => ({ id, writtenAt: new Date(mtimeMs).toISOString() })) }));
  app.put("/:id", async (c) => {
    const id = validId(c.req.param("id"));
    const chain = c.req.header(CHAIN_HEADER);
    if (chain !== undefined) return chained(id, chain, c.req.header(CHAIN_PROGRESS_HEADER), c.req.raw.body);
    const header = c.req.header(CRC_HEADER);
    const expected = header === undefined ? undefined : parseCrc(header);
    if (header !== undefined && expected === undefined) throw problems.badRequest(`${CRC_HEADER} must be 8 hex digits`);
    if (await store.stat(id)) throw problems.conflict(`chunk ${id} already exists`);
    const body = c.req.raw.body ?? new Uint8Array(0);
    const info = await store.put(id, body as AsyncIterable<Uint8Array>).catch((err: Error) => {
      // The sender went away mid-body (a failed upload): nothing was stored.
      if (err.name === "AbortError") throw problems.badRequest(`the body of chunk ${id} ended early`);
      if (err instanceof ChunkStoreFullError) throw problems.insufficientStorage(err.message);
      throw err;
    });
    if (expected !== undefined && info.crc32 !== expected) {
      await store.delete(id);
      throw problems.badRequest(`chunk ${id} arrived with CRC32 ${formatCrc(info.crc32)}, not ${formatCrc(expected)}`);
    }
    return c.json(info, 201);
  });
  const chained = async (id: string, header: string, progress: string | undefined, body: ReadableStream<Uint8Array> | null) => {
    const chain = parseChain(header);
    if (!chain) throw problems.badRequest(`${CHAIN_HEADER} must name 1 to 16 distinct http(s)://host:port URLs`);
    const progressMs = Number(progress);
    if (!(Number.isInteger(progressMs) && progressMs >= 100 && progressMs <= 600_000)) throw problems.badRequest(`${CHAIN_PROGRESS_HEADER} must be a whole number of ms from 100 to 600000`);
    if (!chaining) throw problems.badRequest("this node does not forward chained PUTs");
    const reply = await chainHop({ store, ...chaining }, id, chain, progressMs, body ?? new Blob([]).stream()).catch((err: Error) => {
      if (err instanceof FrameError) throw problems.badRequest(`chunk ${id}: ${err.message}`);
      if (err.name === "AbortError") throw problems.badRequest(`the body of chunk ${id} ended early`);
      throw err;
    });
    return new Response(reply, { headers: { "content-type": "application/x-ndjson" } });
  };
  app.get("/:id", async (c) => {
    const file = await store.localFile(validId(c.req.param("id")));
    if (!file) throw problems.notFound(`no chunk ${c.req.param("id")}`);
    const headers = { ...infoHeaders(file), [BLOCKS_HEADER]: formatBlocks(file.blocks) };
    const range = /^bytes=(\d+)-(\d+)$/.exec(c.req.header("range") ?? "");
    const first = Number(range?.[1]);
    const last = Number(range?.[2]);
    if (!range || !(first <= last && last < file.size)) return new Response(Bun.file(file.path).slice(0, file.size), { headers });
    // Widened to whole blocks, so the reader can check every byte it uses.
    const from = blockStart(file.blocks, first);
    const to = blockEnd(file.blocks, Math.floor(last / file.blocks.blockSize));
    return new Response(Bun.file(file.path).slice(from, to), { status: 206, headers: { ...headers, "content-length": String(to - from), "content-range": `bytes ${from}-${to - 1}/${file.size}` } });
  });
  app.on("HEAD", "/:id", async (c) => {
    const info = await store.stat(validId(c.req.param("id")));
    return info ? c.body(null, 200, infoHeaders(info)) : c.body(null, 404);
  });
  app.delete("/:id", async (c) => {
    if (!(await store.delete(validId(c.req.param("id"))))) throw problems.notFound(`no chunk ${c.req.param("id")}`);
    return c.body(null, 204);
  });
  return app;
}
