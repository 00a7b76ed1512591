import { describe, expect, test } from "bun:test";
import { envName, listenOption, numberOption, option, type OptionSources } from "./config.ts";

const sources = (flags: Record<string, unknown>, env: Record<string, string>, file: Record<string, unknown>): OptionSources => ({
  flags,
  env,
  file,
});

describe("option precedence", () => {
  test("flag beats env beats config file", () => {
    expect(option(sources({ listen: "a:1" }, { PHOTON_LISTEN: "b:2" }, { listen: "c:3" }), "listen")).toBe("a:1");
    expect(option(sources({}, { PHOTON_LISTEN: "b:2" }, { listen: "c:3" }), "listen")).toBe("b:2");
    expect(option(sources({}, {}, { listen: "c:3" }), "listen")).toBe("c:3");
    expect(option(sources({}, {}, {}), "listen")).toBeUndefined();
  });

  test("env names are PHOTON_ plus the upper-cased flag", () => {
    expect(envName("data-dir")).toBe("PHOTON_DATA_DIR");
    expect(envName("node-timeout")).toBe("PHOTON_NODE_TIMEOUT");
  });

  test("numbers and listen addresses are validated with the flag named", () => {
    expect(numberOption(sources({ n: "250" }, {}, {}), "n", 1)).toBe(250);
    expect(numberOption(sources({}, {}, { n: 7 }), "n", 1)).toBe(7);
    expect(() => numberOption(sources({ n: "soon" }, {}, {}), "n", 1)).toThrow("--n");
    expect(listenOption(sources({}, {}, {}), "listen", "127.0.0.1:7070")).toEqual({ hostname: "127.0.0.1", port: 7070 });
    expect(() => listenOption(sources({ listen: "x:99999" }, {}, {}), "listen", "")).toThrow("--listen");
  });
});
