import { describe, expect, test } from "bun:test";
import { parseDelay, parseRate, shapeCommands, tbfArgs } from "./shaping.ts";

describe("link shaping", () => {
  test("rates and delays in tc's units", () => {
    expect(parseRate("1gbit")).toBe(1e9);
    expect(parseRate("200mbit")).toBe(2e8);
    expect(parseRate("2.5Gbit")).toBe(2.5e9);
    expect(parseDelay("0.2ms")).toBeCloseTo(0.0002);
    expect(parseDelay("500us")).toBeCloseTo(0.0005);
    for (const bad of ["1gb", "fast", "", "1kbit"]) expect(() => parseRate(bad)).toThrow("--link-rate");
    for (const bad of ["1", "-1ms", "20s"]) expect(() => parseDelay(bad)).toThrow("--link-delay");
  });

  test("the token bucket holds 4 ms of the rate, at least 64 KiB", () => {
    expect(tbfArgs("1gbit")).toEqual(["tbf", "rate", "1gbit", "burst", "500000", "latency", "20ms"]);
    expect(tbfArgs("10mbit")).toContain(String(64 * 1024));
  });

  test("a rate shapes with tbf; a delay adds netem as the root with tbf beneath it; in the node's namespace with -n", () => {
    expect(shapeCommands("phabc123n01", undefined, { rate: "200mbit" })).toEqual([["tc", "qdisc", "replace", "dev", "phabc123n01", "root", "handle", "1:", ...tbfArgs("200mbit")]]);
    const both = shapeCommands("eth0", "photon-abc123-node01", { rate: "1gbit", delay: "0.2ms" });
    expect(both).toEqual([
      ["tc", "-n", "photon-abc123-node01", "qdisc", "replace", "dev", "eth0", "root", "handle", "1:", "netem", "delay", "0.2ms"],
      ["tc", "-n", "photon-abc123-node01", "qdisc", "replace", "dev", "eth0", "parent", "1:1", "handle", "10:", ...tbfArgs("1gbit")],
    ]);
    expect(shapeCommands("eth0", undefined, {})).toEqual([]);
  });
});
