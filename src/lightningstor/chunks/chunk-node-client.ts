import type { ChunkInfo } from "./chunk-store.ts";
import { CRC_HEADER, formatCrc, listReply, parseCrc, storedReply } from "./chunk-protocol.ts";

/** A storage node answered what the chunk API never answers, or did not answer at all. */
export class ChunkNodeError extends Error {
  constructor(
    readonly node: string,
    detail: string,
  ) {
    super(`${node}: ${detail}`);
    this.name = "ChunkNodeError";
  }
}

/** A copy as a node sends it: its bytes, streamed, and the CRC32 it was stored with. */
export interface CopyReply {
  body: ReadableStream<Uint8Array>;
  crc32: number;
}

/**
 * The gateway's client for storage nodes' chunk API (`/v1/chunks`, cluster
 * token). Every reply is checked against the API's shape; a status the API
 * does not use, a malformed reply or no answer throws ChunkNodeError.
 */
export class ChunkNodeClient {
  constructor(
    private readonly token: string,
    /** A request that has not answered by then fails; streamed bodies take as long as their sender. */
    private readonly timeoutMs: number,
  ) {}

  /**
   * Stores a copy. A streamed body has no deadline (the connection's own
   * errors end it); bytes are sent with their CRC32, which the node checks.
   */
  async put(node: string, id: string, body: Uint8Array | ReadableStream<Uint8Array>, crc32?: number): Promise<ChunkInfo> {
    const headers: Record<string, string> = crc32 === undefined ? {} : { [CRC_HEADER]: formatCrc(crc32) };
    const response = await this.call(node, "PUT", `/${id}`, { body, headers, timeout: !(body instanceof ReadableStream) });
    if (response.status !== 201) throw new ChunkNodeError(node, `PUT ${id}: status ${response.status}: ${await response.text()}`);
    const stored = storedReply.safeParse(await response.json().catch(() => undefined));
    if (!stored.success || stored.data.id !== id) throw new ChunkNodeError(node, `PUT ${id}: malformed reply`);
    return stored.data;
  }

  /** A copy's bytes and CRC32; undefined when the node has none. `timeout: false` for a body read at the client's pace. */
  async get(node: string, id: string, options: { timeout: boolean }): Promise<CopyReply | undefined> {
    const response = await this.call(node, "GET", `/${id}`, options);
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const crc32 = parseCrc(response.headers.get(CRC_HEADER) ?? "");
    if (response.status !== 200 || !response.body || crc32 === undefined) {
      await response.body?.cancel();
      throw new ChunkNodeError(node, `GET ${id}: status ${response.status}${crc32 === undefined ? `, no valid ${CRC_HEADER}` : ""}`);
    }
    return { body: response.body, crc32 };
  }

  /** A copy's size and CRC32 without its bytes; undefined when the node has none. */
  async head(node: string, id: string): Promise<ChunkInfo | undefined> {
    const response = await this.call(node, "HEAD", `/${id}`, { timeout: true });
    if (response.status === 404) return undefined;
    const size = Number(response.headers.get("content-length"));
    const crc32 = parseCrc(response.headers.get(CRC_HEADER) ?? "");
    if (response.status !== 200 || !Number.isSafeInteger(size) || crc32 === undefined) throw new ChunkNodeError(node, `HEAD ${id}: status ${response.status}, malformed headers`);
    return { id, size, crc32 };
  }

  /** Deletes a copy; false when the node had none. */
  async delete(node: string, id: string): Promise<boolean> {
    const response = await this.call(node, "DELETE", `/${id}`, { timeout: true });
    await response.body?.cancel();
    if (response.status === 204) return true;
    if (response.status === 404) return false;
    throw new ChunkNodeError(node, `DELETE ${id}: status ${response.status}`);
  }

  /** Every copy the node holds, with when it was written. */
  async list(node: string): Promise<{ id: string; writtenAt: Date }[]> {
    const response = await this.call(node, "GET", "", { timeout: true });
    if (response.status !== 200) throw new ChunkNodeError(node, `GET /v1/chunks: status ${response.status}`);
    const listed = listReply.safeParse(await response.json().catch(() => undefined));
    if (!listed.success) throw new ChunkNodeError(node, "GET /v1/chunks: malformed reply");
    return listed.data.chunks.map((c) => ({ id: c.id, writtenAt: new Date(c.writtenAt) }));
  }

  private async call(node: string, method: string, path: string, init: { body?: Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string>; timeout: boolean }): Promise<Response> {
    try {
      return await fetch(`${node}/v1/chunks${path}`, {
        method,
        body: init.body,
        headers: { authorization: `Bearer ${this.token}`, ...init.headers },
        signal: init.timeout ? AbortSignal.timeout(this.timeoutMs) : undefined,
        duplex: "half",
      } as RequestInit);
    } catch (err) {
      throw new ChunkNodeError(node, `${method} /v1/chunks${path}: ${(err as Error).message}`);
    }
  }
}
