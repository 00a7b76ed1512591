import { describe, expect, test } from "bun:test";
import { createLogger } from "../../util/log.ts";
import { AccessList } from "./access.ts";
import type { ExportInfo, ExportProvider } from "./exports.ts";
import { Handshake, type HandshakeSecurity, type Negotiated } from "./handshake.ts";
import { IHAVEOPT, OPT, REP, TF } from "./protocol.ts";

const provider: ExportProvider = {
  listExports: () => [{ name: "vm-1", description: "" }, { name: "other", description: "" }],
  describe: (name) =>
    name === "vm-1" || name === "other" ? ({ name, description: "", size: 1 << 20, readOnly: false, spec: {} } as unknown as ExportInfo) : undefined,
};

/** A handshake past the client flags, recording what it sends and does. */
function start(security: HandshakeSecurity) {
  const sent: { option: number; type: number; data: string }[] = [];
  const events = { closed: undefined as string | undefined, tlsStarted: 0, negotiated: undefined as Negotiated | undefined };
  const handshake = new Handshake(
    provider,
    {
      send: (data) => {
        const b = Buffer.from(data);
        if (b.length >= 20) sent.push({ option: b.readUInt32BE(8), type: b.readUInt32BE(12), data: b.toString("utf8", 20) });
      },
      close: (reason) => (events.closed = reason),
      startTls: () => events.tlsStarted++,
      enterTransmission: (negotiated) => (events.negotiated = negotiated),
    },
    createLogger({ level: "error" }),
    security,
  );
  handshake.feed(Buffer.from([0, 0, 0, 3]));
  const option = (type: number, data: Buffer = Buffer.alloc(0)) => {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(type, 8);
    header.writeUInt32BE(data.length, 12);
    handshake.feed(Buffer.concat([header, data]));
    return sent.at(-1)!;
  };
  const go = (name: string) => {
    const data = Buffer.alloc(4 + name.length + 2);
    data.writeUInt32BE(name.length, 0);
    data.write(name, 4);
    return option(OPT.GO, data);
  };
  return { handshake, sent, events, option, go };
}

describe("NBD handshake with TLS (proto.md FORCEDTLS / NOTLS)", () => {
  test("TLS required: options before STARTTLS get NBD_REP_ERR_TLS_REQD, EXPORT_NAME ends the session", () => {
    const h = start({ tls: "require" });
    expect(h.go("vm-1").type).toBe(REP.ERR_TLS_REQD);
    expect(h.option(OPT.LIST).type).toBe(REP.ERR_TLS_REQD);
    expect(h.option(OPT.STRUCTURED_REPLY).type).toBe(REP.ERR_TLS_REQD);
    h.option(OPT.EXPORT_NAME, Buffer.from("vm-1"));
    expect(h.events.closed).toContain("without TLS");
    expect(h.events.negotiated).toBeUndefined();
  });

  test("STARTTLS is acknowledged, then the same export names work over TLS and a second STARTTLS is invalid", () => {
    const h = start({ tls: "require" });
    expect(h.option(OPT.STARTTLS)).toMatchObject({ option: OPT.STARTTLS, type: REP.ACK });
    expect(h.events.tlsStarted).toBe(1);
    h.handshake.tlsEstablished("alice");
    expect(h.option(OPT.STARTTLS).type).toBe(REP.ERR_INVALID);
    expect(h.go("vm-1").type).toBe(REP.ACK);
    expect(h.events.negotiated?.export.name).toBe("vm-1");
  });

  test("STARTTLS with data is invalid; without TLS configured it is refused by policy", () => {
    expect(start({ tls: "require" }).option(OPT.STARTTLS, Buffer.from("x")).type).toBe(REP.ERR_INVALID);
    const off = start({ tls: "off" });
    expect(off.option(OPT.STARTTLS).type).toBe(REP.ERR_POLICY);
    expect(off.go("vm-1").type).toBe(REP.ACK);
  });

  test("structured replies negotiated before STARTTLS are forgotten", () => {
    const h = start({ tls: "allow" });
    expect(h.option(OPT.STRUCTURED_REPLY).type).toBe(REP.ACK);
    h.option(OPT.STARTTLS);
    h.handshake.tlsEstablished(undefined);
    h.go("vm-1");
    expect(h.events.negotiated?.structuredReplies).toBe(false);
  });
});

describe("NBD handshake with an access list", () => {
  const access = AccessList.parse("alice vm-* rw\nbob vm-* ro\n");

  test("a read-only grant makes the export read-only; no grant is NBD_REP_ERR_POLICY", () => {
    const bob = start({ tls: "require", access });
    bob.option(OPT.STARTTLS);
    bob.handshake.tlsEstablished("bob");
    expect(bob.go("other")).toMatchObject({ type: REP.ERR_POLICY, data: 'identity "bob" may not open export "other"' });
    expect(bob.go("vm-1").type).toBe(REP.ACK);
    expect(bob.events.negotiated!.export.readOnly).toBe(true);
    expect(bob.events.negotiated!.flags & TF.READ_ONLY).toBe(TF.READ_ONLY);
  });

  test("NBD_OPT_LIST shows only what the identity may open; without an identity nothing opens", () => {
    const alice = start({ tls: "allow", access });
    alice.option(OPT.STARTTLS);
    alice.handshake.tlsEstablished("alice");
    alice.option(OPT.LIST);
    expect(alice.sent.filter((r) => r.type === REP.SERVER).map((r) => r.data.slice(4))).toEqual(["vm-1"]);
    const anonymous = start({ tls: "allow", access });
    expect(anonymous.go("vm-1")).toMatchObject({ type: REP.ERR_POLICY, data: 'a client without a TLS identity may not open export "vm-1"' });
  });
});
