import { afterEach, expect, test } from "bun:test";
import type { Socket } from "bun";
import { waitFor } from "../../../test/helpers/wait-for.ts";
import { createLogger } from "../../util/log.ts";
import { DEFAULT_LIMITS, type CutReason, type ListenerLimits } from "./listener-limits.ts";
import { listenRaw } from "./listener.ts";

const quiet = createLogger({ level: "error" });
const stops: (() => Promise<void>)[] = [];
const sockets: Socket<undefined>[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.end();
  for (const stop of stops.splice(0)) await stop();
});

/** A listener answering "ok" (`handler` otherwise) with `limits` over the defaults; `cuts` counts what they cut. */
async function listen(limits: Partial<ListenerLimits>, handler: (request: Request) => Promise<Response> = async () => new Response("ok"), cuts: CutReason[] = []): Promise<number> {
  const server = await listenRaw(handler, { hostname: "127.0.0.1", port: 0 }, quiet, { ...DEFAULT_LIMITS, ...limits }, (reason) => cuts.push(reason));
  stops.push(server.stop);
  return server.port;
}

/** A raw connection that records what it received, whether it was closed, and its errors (a reset). */
async function connect(port: number): Promise<{ socket: Socket<undefined>; received: () => string; closed: () => boolean; errors: string[] }> {
  let received = "";
  let closed = false;
  const errors: string[] = [];
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, data) => void (received += data.toString("latin1")),
      close: () => void (closed = true),
      error: (_s, err) => void errors.push(String(err)),
    },
  });
  sockets.push(socket);
  return { socket, received: () => received, closed: () => closed, errors };
}

test("a request head that trickles in is answered 408 and closed at the deadline, while whole requests are served", async () => {
  const port = await listen({ headerTimeoutMs: 300, maxConnections: 100 });
  const slow = await connect(port);
  const head = "GET / HTTP/1.1\r\nhost: x\r\n";
  let sent = 0;
  const trickle = setInterval(() => sent < head.length && slow.socket.write(head[sent++]!), 20);
  try {
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
    await waitFor(slow.closed, "the trickling connection to be closed");
    expect(slow.received()).toStartWith("HTTP/1.1 408");
    expect(sent).toBeLessThan(head.length); // closed while it was still sending its head
  } finally {
    clearInterval(trickle);
  }
  // A keep-alive connection that answered its request is not held to the deadline while idle.
  const idle = await connect(port);
  idle.socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
  await waitFor(() => idle.received().endsWith("ok"), "the answer");
  await Bun.sleep(500);
  expect(idle.closed()).toBe(false);
});

test("connections beyond the cap are answered 503 SlowDown and closed; below it they are served again", async () => {
  const port = await listen({ headerTimeoutMs: 10_000, maxConnections: 3 });
  const held = await Promise.all([1, 2, 3].map(() => connect(port)));
  await Bun.sleep(50);
  const over = await connect(port);
  await waitFor(over.closed, "the connection over the cap to be closed");
  expect(over.received()).toStartWith("HTTP/1.1 503");
  expect(over.received()).toContain("<Code>SlowDown</Code>");
  held[0]!.socket.end();
  await waitFor(held[0]!.closed, "a held connection to close");
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).status === 200, "a new connection to be served");
});

/** Reads a request's body whole and answers its length, or the error its stream failed with. */
async function bodyLength(request: Request): Promise<Response> {
  try {
    return new Response(String((await request.arrayBuffer()).byteLength));
  } catch (err) {
    return new Response((err as Error).name, { status: 400 });
  }
}

test("a body that trickles below the minimum rate is answered 400 and closed, and counted, while a body sent at once is read", async () => {
  const cuts: CutReason[] = [];
  const port = await listen({ bodyGraceMs: 300, minBodyBytesPerSecond: 1000 }, bodyLength, cuts);
  const slow = await connect(port);
  slow.socket.write("PUT / HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n");
  let sent = 0;
  const trickle = setInterval(() => !slow.closed() && slow.socket.write("a") && sent++, 20);
  try {
    // Meanwhile a whole body is read.
    expect(await (await fetch(`http://127.0.0.1:${port}/`, { method: "PUT", body: "x".repeat(200_000) })).text()).toBe("200000");
    await waitFor(slow.closed, "the trickling connection to be closed");
    expect(slow.received()).toStartWith("HTTP/1.1 400");
    expect(slow.received()).toContain("BodyTooSlowError");
    expect(sent).toBeLessThan(100_000);
    expect(cuts).toEqual(["body-too-slow"]);
  } finally {
    clearInterval(trickle);
  }
});

test("time the server spends not reading a body (backpressure) does not count against the client's rate", async () => {
  const cuts: CutReason[] = [];
  let release!: () => void;
  const hold = new Promise<void>((resolve) => (release = resolve));
  // 20 MB/s: the 4 MiB read before reading pauses buy 0.2 s, far less than the hold.
  const port = await listen({ bodyGraceMs: 300, minBodyBytesPerSecond: 20_000_000 }, async (request) => (await hold, bodyLength(request)), cuts);
  const held = fetch(`http://127.0.0.1:${port}/`, { method: "PUT", body: Buffer.alloc(16 * 1024 * 1024) });
  await Bun.sleep(1500);
  release();
  expect(await (await held).text()).toBe(String(16 * 1024 * 1024));
  expect(cuts).toEqual([]);
});

test("a body answered without being read (a refused PUT) is read to its end and dropped: the client gets the answer and a clean close, not a reset", async () => {
  const port = await listen({}, async () => new Response("full", { status: 507 }));
  const { socket, received, closed, errors } = await connect(port);
  const body = 8 * 1024 * 1024;
  socket.write(`PUT /b/k HTTP/1.1\r\nhost: x\r\ncontent-length: ${body}\r\n\r\n`);
  await waitFor(() => received().includes("\r\n\r\nfull"), "the answer");
  // The client goes on sending the body it announced, as clients that do not wait for 100-continue do.
  const piece = new Uint8Array(256 * 1024);
  let sent = 0;
  await waitFor(async () => {
    while (sent < body) {
      const n = socket.write(piece.subarray(0, Math.min(piece.length, body - sent)));
      if (n <= 0) return false; // the server is not reading: try again shortly, until waitFor gives up
      sent += n;
    }
    return true;
  }, "the server to take the rest of the body", 10_000);
  await waitFor(closed, "the connection to close");
  expect(received()).toStartWith("HTTP/1.1 507");
  expect(received()).toContain("connection: close");
  expect(errors).toEqual([]);
}, 30_000);
