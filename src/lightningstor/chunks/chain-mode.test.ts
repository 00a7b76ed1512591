import { describe, expect, test } from "bun:test";
import { isLoopback, modeFor } from "./chain-mode.ts";

describe("replication mode", () => {
  test("auto fans out over loopback nodes and chains over any other", () => {
    expect(modeFor("auto", ["http://127.0.0.1:7071", "http://127.9.3.4:7071", "http://localhost:1"])).toBe("fanout");
    expect(modeFor("auto", ["http://127.0.0.1:7071", "http://10.0.0.2:7071"])).toBe("chain");
    expect(modeFor("auto", ["http://10.0.0.2:7071"])).toBe("fanout");
  });

  test("an explicit mode is kept whatever the nodes", () => {
    expect(modeFor("chain", ["http://127.0.0.1:1", "http://127.0.0.1:2"])).toBe("chain");
    expect(modeFor("fanout", ["http://10.0.0.1:1", "http://10.0.0.2:2"])).toBe("fanout");
  });

  test("loopback is 127/8, localhost and ::1", () => {
    expect([isLoopback("http://[::1]:80"), isLoopback("http://128.0.0.1:80"), isLoopback("https://localhost")]).toEqual([true, false, true]);
  });
});
