import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { ListenAddress } from "../http/serve.ts";
import type { Logger } from "../util/log.ts";

const WRITE_BATCH = 1024 * 1024;

/** A fetch-style handler that also gets the raw request target. */
export type RawTargetHandler = (request: Request, rawTarget: string) => Promise<Response>;

/**
 * Serves a fetch-style handler over node:http. Bun.serve would be simpler,
 * but it normalizes `.`/`..` in request paths (S3 keys are opaque and signed
 * as sent) and turns a streamed body into chunked encoding even when
 * Content-Length is known (S3 clients such as s3cmd need the length).
 */
export async function listenRaw(handler: RawTargetHandler, listen: ListenAddress, log: Logger): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    serve(handler, req, res).catch((err: unknown) => {
      log.error("S3 connection failed", { err });
      res.destroy();
    });
  });
  server.requestTimeout = 0; // large uploads take as long as they take; idle sockets still time out
  server.listen(listen.port, listen.hostname);
  await once(server, "listening");
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : listen.port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function serve(handler: RawTargetHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rawTarget = req.url ?? "/";
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(",") : value);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const request = new Request(`http://${req.headers.host ?? "localhost"}/`, {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    duplex: "half",
  } as RequestInit);
  const response = await handler(request, rawTarget);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body && req.method !== "HEAD") {
    // Small stream pieces are gathered into larger writes: each write costs a trip through node:http.
    let batch: Uint8Array[] = [];
    let batched = 0;
    const flush = async () => {
      if (batched === 0) return;
      const ok = res.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched));
      batch = [];
      batched = 0;
      if (!ok) await once(res, "drain");
    };
    for await (const piece of response.body) {
      batch.push(piece);
      batched += piece.length;
      if (batched >= WRITE_BATCH) await flush();
    }
    await flush();
  }
  res.end();
}
