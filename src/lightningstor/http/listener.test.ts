import { afterEach, expect, test } from "bun:test";
import type { Socket } from "bun";
import { waitFor } from "../../../test/helpers/wait-for.ts";
import { createLogger } from "../../util/log.ts";
import { listenRaw } from "./listener.ts";

const quiet = createLogger({ level: "error" });
const stops: (() => Promise<void>)[] = [];
const sockets: Socket<undefined>[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.end();
  for (const stop of stops.splice(0)) await stop();
});

async function listen(limits: { headerTimeoutMs: number; maxConnections: number }): Promise<number> {
  const server = await listenRaw(async () => new Response("ok"), { hostname: "127.0.0.1", port: 0 }, quiet, limits);
  stops.push(server.stop);
  return server.port;
}

/** A raw connection that records what it received and whether it was closed. */
async function connect(port: number): Promise<{ socket: Socket<undefined>; received: () => string; closed: () => boolean }> {
  let received = "";
  let closed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, data) => void (received += data.toString("latin1")),
      close: () => void (closed = true),
    },
  });
  sockets.push(socket);
  return { socket, received: () => received, closed: () => closed };
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
