import { expect, test } from "bun:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { waitFor } from "../helpers/photon.ts";
import { sharedGateway } from "../helpers/s3-gateway.ts";

/** The S3 listener drops connections that send their request head a byte at a time (slowloris). */

const shared = sharedGateway("slow");

test("50 connections sending a header byte a second are closed at the header deadline while an SDK client keeps working", async () => {
  const { hostname, port } = new URL(shared.gw.endpoint);
  const head = `GET /slow/k HTTP/1.1\r\nhost: ${hostname}\r\nx-padding: ${"a".repeat(100)}\r\n`;
  const slow = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const state = { sent: 0, closed: false, received: "" };
      const socket: Socket<undefined> = await Bun.connect({
        hostname,
        port: Number(port),
        socket: {
          data: (_s, data) => void (state.received += data.toString("latin1")),
          close: () => void (state.closed = true),
        },
      });
      return { socket, state };
    }),
  );
  const trickle = setInterval(() => {
    for (const { socket, state } of slow) if (!state.closed) socket.write(head[state.sent++ % head.length]!);
  }, 1000);
  try {
    // Meanwhile a normal client is served, again and again.
    let served = 0;
    while (slow.some((c) => !c.state.closed)) {
      const body = randomBytes(100_000);
      await shared.s3.send(new PutObjectCommand({ Bucket: "slow", Key: `k${served}`, Body: body }));
      const got = await shared.s3.send(new GetObjectCommand({ Bucket: "slow", Key: `k${served}` }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      served++;
      if (served > 2000) throw new Error("the slow connections were never closed");
      await Bun.sleep(200);
    }
    expect(served).toBeGreaterThan(5);
    await waitFor(() => slow.every((c) => c.state.received.startsWith("HTTP/1.1 408")), "every slow connection to have been answered 408");
    // Closed at the deadline (10 s), long before the head could have been sent.
    expect(Math.max(...slow.map((c) => c.state.sent))).toBeLessThan(head.length);
  } finally {
    clearInterval(trickle);
    for (const { socket } of slow) socket.end();
  }
}, 60_000);
