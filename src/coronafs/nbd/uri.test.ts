import { describe, expect, test } from "bun:test";
import { parseNbdUri } from "./uri.ts";

describe("parseNbdUri", () => {
  test("an nbds URI that names no credentials takes the fallback (this process's --ca), keeping tls-hostname", () => {
    const fallback = { caFile: "/etc/photon/ca.pem" };
    expect(parseNbdUri("nbds://10.0.0.1:10809/base", fallback)).toEqual({ host: "10.0.0.1", port: 10809, exportName: "base", tls: { caFile: "/etc/photon/ca.pem", serverName: undefined } });
    expect(parseNbdUri("nbds://10.0.0.1/base?tls-hostname=node01", fallback).tls).toEqual({ caFile: "/etc/photon/ca.pem", serverName: "node01" });
  });

  test("credentials in the URI win over the fallback; without either an nbds URI is refused", () => {
    expect(parseNbdUri("nbds://h/v?tls-certificates=/certs", { caFile: "/other.pem" }).tls?.caFile).toBe("/certs/ca-cert.pem");
    expect(() => parseNbdUri("nbds://h/v")).toThrow("tls-certificates");
    expect(parseNbdUri("nbd://h/v", { caFile: "/ca.pem" }).tls).toBeUndefined();
  });
});
