import { describe, expect, test } from "bun:test";
import { formatHost, parseListen } from "./serve.ts";

describe("parseListen", () => {
  test("accepts host:port, :port, a bare port and bracketed IPv6", () => {
    expect(parseListen("0.0.0.0:9000")).toEqual({ hostname: "0.0.0.0", port: 9000 });
    expect(parseListen(":7070")).toEqual({ hostname: "127.0.0.1", port: 7070 });
    expect(parseListen("10809")).toEqual({ hostname: "127.0.0.1", port: 10809 });
    expect(parseListen("[::1]:0")).toEqual({ hostname: "::1", port: 0 });
  });

  test("rejects garbage and out-of-range ports", () => {
    expect(() => parseListen("localhost")).toThrow("invalid listen address");
    expect(() => parseListen("host:70000")).toThrow("invalid port");
  });

  test("formatHost brackets IPv6 only", () => {
    expect(formatHost("::1")).toBe("[::1]");
    expect(formatHost("127.0.0.1")).toBe("127.0.0.1");
  });
});
