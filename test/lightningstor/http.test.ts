import { expect, test } from "bun:test";
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import { signedFetch } from "../helpers/sign.ts";
import { sharedGateway } from "../helpers/s3-gateway.ts";

const shared = sharedGateway("wire");

/** Writes `data` on a fresh connection and returns everything received until the server closes it or `until` matches. */
async function exchange(data: string, until: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  const url = new URL(shared.gw.endpoint);
  let text = "";
  let closed = false;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data(_socket, chunk) {
        text += chunk.toString("latin1");
        if (until(text)) done();
      },
      close() {
        closed = true;
        done();
      },
    },
  });
  socket.write(data);
  await Promise.race([finished, Bun.sleep(5000)]);
  socket.end();
  return { text, closed };
}

test("pipelined requests on one connection are answered in order", async () => {
  const request = (key: string) => `GET /wire/${key} HTTP/1.1\r\nHost: ${new URL(shared.gw.endpoint).host}\r\n\r\n`;
  const { text } = await exchange(request("first") + request("second"), (t) => t.includes("/wire/second</Resource>"));
  // Anonymous requests: two AccessDenied answers, the first one first.
  expect(text.match(/HTTP\/1\.1 403 Forbidden/g)).toHaveLength(2);
  expect(text.indexOf("/wire/first</Resource>")).toBeGreaterThan(0);
  expect(text.indexOf("/wire/first</Resource>")).toBeLessThan(text.indexOf("/wire/second</Resource>"));
});

test("a client that sends its request and half-closes still gets the whole answer", async () => {
  const data = randomBytes(20 * 1024 * 1024);
  await shared.s3.send(new PutObjectCommand({ Bucket: "wire", Key: "half", Body: data }));
  const url = new URL(await getSignedUrl(shared.s3, new GetObjectCommand({ Bucket: "wire", Key: "half" })));
  // node:net, because it keeps reading after shutting down its side.
  const socket = connect({ host: url.hostname, port: Number(url.port), allowHalfOpen: true });
  const received: Buffer[] = [];
  socket.on("data", (piece: Buffer) => received.push(piece));
  socket.on("connect", () => socket.end(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`));
  await once(socket, "close");
  const response = Buffer.concat(received);
  expect(response.toString("latin1", 0, 15)).toBe("HTTP/1.1 200 OK");
  expect(response.subarray(response.indexOf("\r\n\r\n") + 4).equals(data)).toBe(true);
});

test("a malformed request head gets 400 and its connection closed; other clients go on", async () => {
  const { text, closed } = await exchange("NOT HTTP AT ALL\r\n\r\n", () => false);
  expect(text.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
  expect(closed).toBe(true);
  const { text: smuggled, closed: closedToo } = await exchange("PUT /wire/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", () => false);
  expect(smuggled.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
  expect(closedToo).toBe(true);
  expect((await shared.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toContain("wire");
});

test("a body sent with Transfer-Encoding: chunked is stored whole", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < data.length; at += 100_000) controller.enqueue(data.subarray(at, at + 100_000));
      controller.close();
    },
  });
  const put = await signedFetch(shared.gw.endpoint, shared.gw.credentials, { method: "PUT", path: "/wire/chunked", body, payloadHash: "UNSIGNED-PAYLOAD" });
  expect(put.status).toBe(200);
  expect(put.headers.get("etag")).toBe(`"${createHash("md5").update(data).digest("hex")}"`);
  const got = await shared.s3.send(new GetObjectCommand({ Bucket: "wire", Key: "chunked" }));
  expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
});
