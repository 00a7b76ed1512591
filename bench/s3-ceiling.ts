/**
 * The S3 benchmark's ceiling, run as its own process like the gateway: a
 * minimal Bun HTTP server that streams each PUT body to a file with fsync
 * while computing the hashes the request obliges — MD5 for the ETag, SHA-256
 * when x-amz-content-sha256 is a hex payload hash (what the SDK sends for a
 * body of known length), CRC32 (the SDK's checksum) — and answers GET with
 * sendfile, returning the CRC32 when the client asks for the checksum (as the
 * SDK does by default).
 *
 *   node_modules/.bin/bun bench/s3-ceiling.ts DIR PORT
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

const [store = "", port = "0", host = "127.0.0.1"] = process.argv.slice(2);
mkdirSync(store, { recursive: true });
const crc32s = new Map<string, string>();
Bun.serve({
  port: Number(port),
  hostname: host,
  maxRequestBodySize: 2 ** 40,
  async fetch(request) {
    const path = join(store, encodeURIComponent(new URL(request.url).pathname));
    if (request.method === "PUT") {
      const md5 = createHash("md5");
      const sha256 = /^[0-9a-f]{64}$/.test(request.headers.get("x-amz-content-sha256") ?? "") ? createHash("sha256") : undefined;
      let crc = 0;
      const fd = openSync(path, "w");
      for await (const piece of request.body ?? []) {
        md5.update(piece);
        sha256?.update(piece);
        crc = Bun.hash.crc32(piece, crc);
        for (let done = 0; done < piece.length; ) done += writeSync(fd, piece, done, piece.length - done);
      }
      fsyncSync(fd);
      closeSync(fd);
      if (sha256 && sha256.digest("hex") !== request.headers.get("x-amz-content-sha256")) return new Response("payload hash mismatch", { status: 400 });
      const crc32 = Buffer.from(Uint32Array.of(crc).buffer).reverse().toString("base64");
      crc32s.set(path, crc32);
      return new Response(null, { headers: { etag: `"${md5.digest("hex")}"`, "x-amz-checksum-crc32": crc32 } });
    }
    if (request.method === "GET") {
      if (!crc32s.has(path)) return new Response(null, { status: 404 });
      const checksum = request.headers.get("x-amz-checksum-mode") === "ENABLED" ? { "x-amz-checksum-crc32": crc32s.get(path)! } : undefined;
      return new Response(Bun.file(path), { headers: checksum });
    }
    return new Response(null, { status: 200 });
  },
});
