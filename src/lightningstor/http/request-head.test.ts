import { describe, expect, test } from "bun:test";
import { ChunkedDecoder, HttpError, MAX_HEAD_BYTES, parseHead } from "./request-head.ts";

const head = (text: string) => parseHead(Buffer.from(text, "latin1"));
const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err.status;
    throw err;
  }
  throw new Error("expected an HttpError");
};

describe("request heads", () => {
  test("an incomplete head is undefined; a complete one keeps the target exactly as sent", () => {
    expect(head("GET /b/a/../k HTTP/1.1\r\nHost: x\r\n")).toBeUndefined();
    const text = "\r\nPUT /b/a/../%2e%2e/k?x-id=PutObject HTTP/1.1\r\nHost: x\r\nX-Amz-Meta-A:  one \r\nx-amz-meta-a: two\r\nContent-Length: 5\r\n\r\n";
    const parsed = head(`${text}hello`)!;
    expect(parsed.method).toBe("PUT");
    expect(parsed.target).toBe("/b/a/../%2e%2e/k?x-id=PutObject");
    expect(parsed.version).toBe("1.1");
    expect(parsed.headers.get("x-amz-meta-a")).toBe("one, two");
    expect(parsed.body).toEqual({ kind: "length", length: 5 });
    expect(parsed.size).toBe(text.length);
  });

  test("body framing: none, length, chunked", () => {
    expect(head("GET / HTTP/1.0\r\n\r\n")!.body).toEqual({ kind: "none" });
    expect(head("PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")!.body).toEqual({ kind: "none" });
    expect(head("PUT / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n")!.body).toEqual({ kind: "length", length: 7 });
    expect(head("PUT / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n")!.body).toEqual({ kind: "chunked" });
  });

  test("malformed heads are refused with the status to answer", () => {
    expect(status(() => head("GET /\r\n\r\n"))).toBe(400);
    expect(status(() => head("GET / HTTP/2.0\r\n\r\n"))).toBe(400);
    expect(status(() => head("GET / HTTP/1.1\r\nno colon here\r\n\r\n"))).toBe(400);
    expect(status(() => head("GET / HTTP/1.1\r\nbad name: x\r\n\r\n"))).toBe(400);
    expect(status(() => head("PUT / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"))).toBe(400);
    expect(status(() => head("PUT / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"))).toBe(400);
    expect(status(() => head("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"))).toBe(400);
    expect(status(() => head("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"))).toBe(501);
    expect(status(() => head(`GET / HTTP/1.1\r\nX: ${"a".repeat(MAX_HEAD_BYTES)}\r\n`))).toBe(431);
  });
});

describe("chunked bodies", () => {
  const body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";

  test("decode the same whichever way the bytes are cut, and hand back what follows", () => {
    for (const step of [1, 2, 3, 7, body.length]) {
      const decoder = new ChunkedDecoder();
      const data: Buffer[] = [];
      let rest: Buffer | undefined;
      for (let at = 0; at < body.length && !decoder.done; at += step) {
        const out = decoder.feed(Buffer.from(body.slice(at, at + step)));
        data.push(...out.data);
        if (out.rest) rest = Buffer.concat([out.rest, Buffer.from(body.slice(at + step))]);
      }
      expect(Buffer.concat(data).toString()).toBe("hello world");
      expect(decoder.done).toBe(true);
      expect(rest?.toString()).toBe("NEXT");
    }
  });

  test("bad sizes and missing CRLFs are refused", () => {
    expect(status(() => new ChunkedDecoder().feed(Buffer.from("zz\r\n")))).toBe(400);
    expect(status(() => new ChunkedDecoder().feed(Buffer.from("2\r\nabX\r\n")))).toBe(400);
    expect(status(() => new ChunkedDecoder().feed(Buffer.from("1".repeat(5000))))).toBe(400);
  });
});
