import { describe, expect, test } from "bun:test";
import { parseMetaQuery } from "./handshake.ts";
import { decodeRequest, emptyRequest, greeting, optionReply, readU64, REQUEST_MAGIC, writeStructuredHeader, writeU64 } from "./protocol.ts";

describe("NBD codecs", () => {
  test("requests decode from any offset of a buffer, 64-bit offsets included", () => {
    const buf = Buffer.alloc(40);
    buf.writeUInt32BE(REQUEST_MAGIC, 12);
    buf.writeUInt16BE(1, 16);
    buf.writeUInt16BE(6, 18);
    buf.writeUInt32BE(0xdeadbeef, 20);
    buf.writeUInt32BE(7, 24);
    writeU64(buf, 2 ** 40 + 512, 28);
    buf.writeUInt32BE(4096, 36);
    const req = emptyRequest();
    expect(decodeRequest(buf, 12, req)).toBe(true);
    expect(req).toEqual({ flags: 1, type: 6, handleHi: 0xdeadbeef, handleLo: 7, offset: 2 ** 40 + 512, length: 4096 });
    expect(decodeRequest(buf, 0, req)).toBe(false);
  });

  test("u64 helpers round-trip values up to 2^53", () => {
    const buf = Buffer.alloc(8);
    for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      writeU64(buf, v, 0);
      expect(readU64(buf, 0)).toBe(v);
      expect(buf.readBigUInt64BE(0)).toBe(BigInt(v));
    }
  });

  test("greeting, option replies and structured headers have the spec's layout", () => {
    expect(greeting().toString("hex")).toBe("4e42444d4147494349484156454f50540003");
    const reply = optionReply(7, 1);
    expect(reply.toString("hex")).toBe("0003e889045565a9" + "00000007" + "00000001" + "00000000");
    const header = Buffer.alloc(20);
    writeStructuredHeader(header, 0, 1, 5, { flags: 0, type: 7, handleHi: 0, handleLo: 9, offset: 0, length: 0 }, 12);
    expect(header.toString("hex")).toBe("668e33ef" + "0001" + "0005" + "0000000000000009" + "0000000c");
  });

  test("meta context queries parse, and malformed ones are reported", () => {
    const name = Buffer.from("vol");
    const q = Buffer.from("base:allocation");
    const data = Buffer.concat([u32(name.length), name, u32(1), u32(q.length), q]);
    expect(parseMetaQuery(data)).toEqual({ exportName: "vol", queries: ["base:allocation"] });
    expect(parseMetaQuery(data.subarray(0, data.length - 1))).toBe("bad query length");
    expect(parseMetaQuery(Buffer.concat([data, Buffer.from("x")]))).toBe("trailing bytes after queries");
    expect(parseMetaQuery(Buffer.concat([u32(99999), name, u32(0)]))).toBe("bad export name length");
  });
});

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}
