import { expect, test } from "bun:test";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { authed, waitFor } from "../helpers/photon.ts";
import { signHeaders } from "../helpers/sign.ts";
import { s3Error, sharedGateway } from "../helpers/s3-gateway.ts";

/** The S3 listener drops connections that send their request head, or body, a byte at a time (slowloris). */

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

test("200 connections trickling a PUT body are answered 400 RequestTimeout and closed, counted on /metrics, while an SDK client keeps working", async () => {
  const { gw, s3 } = shared;
  const { hostname, port } = new URL(gw.endpoint);
  const slow = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const path = `/slow/trickled-${i}`;
      const headers = await signHeaders(gw.endpoint, gw.credentials, { method: "PUT", path, payloadHash: "UNSIGNED-PAYLOAD", headers: { "content-length": "1000000" } });
      const state = { sent: 0, closed: false, received: "" };
      const socket: Socket<undefined> = await Bun.connect({
        hostname,
        port: Number(port),
        socket: {
          data: (_s, data) => void (state.received += data.toString("latin1")),
          close: () => void (state.closed = true),
        },
      });
      socket.write(`PUT ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
      return { socket, state };
    }),
  );
  const trickle = setInterval(() => {
    for (const { socket, state } of slow) if (!state.closed && socket.write("a") === 1) state.sent++;
  }, 1000);
  try {
    let served = 0;
    while (slow.some((c) => !c.state.closed)) {
      const body = randomBytes(100_000);
      await s3.send(new PutObjectCommand({ Bucket: "slow", Key: `b${served}`, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: "slow", Key: `b${served}` }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      served++;
      if (served > 2000) throw new Error("the trickling connections were never closed");
      await Bun.sleep(200);
    }
    expect(served).toBeGreaterThan(5);
    for (const { state } of slow) {
      expect(state.received).toStartWith("HTTP/1.1 400");
      expect(state.received).toContain("<Code>RequestTimeout</Code>");
      expect(state.sent).toBeLessThan(1000); // far from the million bytes announced
    }
    const metrics = await (await fetch(`${gw.admin}/metrics`, authed(gw.token))).text();
    expect(metrics).toContain('photon_s3_connections_cut_total{reason="body-too-slow"} 200');
    // Nothing of the cut uploads is visible.
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "slow", Key: "trickled-0" })))).toEqual({ name: "NotFound", status: 404 });
  } finally {
    clearInterval(trickle);
    for (const { socket } of slow) socket.end();
  }
}, 90_000);
