import { describe, expect, test } from "bun:test";
import { classifyQmpMessage, encodeQmpCommand, QmpLineDecoder } from "./qmp-messages.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("QMP framing", () => {
  test("a message split across reads is delivered once its line ends", () => {
    const decoder = new QmpLineDecoder();
    expect(decoder.push(bytes('{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}}, "capabilities": []}}\r\n{"ret'))).toEqual([
      { kind: "greeting", version: "7.2.22" },
    ]);
    expect(decoder.push(bytes('urn": {}, "id": 1}'))).toEqual([]);
    expect(decoder.push(bytes("\r\n"))).toEqual([{ kind: "return", id: 1, value: {} }]);
  });

  test("a multi-byte character split between reads survives", () => {
    const decoder = new QmpLineDecoder();
    const line = bytes('{"return": "é", "id": 2}\n');
    const cut = line.indexOf(0xc3) + 1;
    expect(decoder.push(line.subarray(0, cut))).toEqual([]);
    expect(decoder.push(line.subarray(cut))).toEqual([{ kind: "return", id: 2, value: "é" }]);
  });

  test("errors carry their class and description, events their time", () => {
    expect(classifyQmpMessage({ error: { class: "CommandNotFound", desc: "The command foo has not been found" }, id: 3 })).toEqual({
      kind: "error",
      id: 3,
      errorClass: "CommandNotFound",
      desc: "The command foo has not been found",
    });
    expect(classifyQmpMessage({ event: "SHUTDOWN", data: { guest: true, reason: "guest-shutdown" }, timestamp: { seconds: 10, microseconds: 500000 } })).toEqual({
      kind: "event",
      event: { event: "SHUTDOWN", data: { guest: true, reason: "guest-shutdown" }, at: 10_500 },
    });
  });

  test("lines that are not QMP are refused", () => {
    expect(() => new QmpLineDecoder().push(bytes("not json\n"))).toThrow();
    expect(() => classifyQmpMessage([1, 2])).toThrow("unknown message");
    expect(() => classifyQmpMessage("x")).toThrow("not an object");
  });

  test("commands carry their id and only the arguments given", () => {
    expect(encodeQmpCommand("query-status", undefined, 4)).toBe('{"execute":"query-status","id":4}\n');
    expect(JSON.parse(encodeQmpCommand("quit", {}, 5))).toEqual({ execute: "quit", arguments: {}, id: 5 });
  });
});
