import { describe, expect, test } from "bun:test";
import { TlsContext } from "./context.ts";
import { parsePskFile } from "./psk-file.ts";
import { TlsSession } from "./session.ts";

const key = Buffer.from("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "hex");

/** Moves ciphertext both ways until neither side has any left; returns what each side decrypted. */
function pump(client: TlsSession, server: TlsSession): { toServer: Buffer; toClient: Buffer } {
  const plain = { toServer: [] as Buffer[], toClient: [] as Buffer[] };
  for (let moved = true; moved; ) {
    moved = false;
    for (const [from, to, into] of [[client, server, plain.toServer], [server, client, plain.toClient]] as const) {
      const bytes = from.takeCiphertext();
      if (!bytes) continue;
      moved = true;
      to.pushCiphertext(bytes, 0, bytes.length);
      const out = Buffer.alloc(1 << 16);
      for (let n = to.readPlaintext(out, 0, out.length); n > 0; n = to.readPlaintext(out, 0, out.length)) into.push(Buffer.from(out.subarray(0, n)));
    }
  }
  return { toServer: Buffer.concat(plain.toServer), toClient: Buffer.concat(plain.toClient) };
}

describe("TLS sessions over memory BIOs", () => {
  test("a PSK client and server agree, exchange data both ways and the server learns the identity", () => {
    const serverContext = TlsContext.server({ psk: new Map([["alice", key]]) });
    const clientContext = TlsContext.client({ psk: { identity: "alice", key } });
    const server = TlsSession.create(serverContext);
    const client = TlsSession.create(clientContext);
    pump(client, server);
    expect(server.handshakeDone).toBe(true);
    expect(client.handshakeDone).toBe(true);
    expect(server.peerIdentity()).toBe("alice");
    const big = Buffer.alloc(1024 * 1024 + 7, 0x5a);
    client.writePlaintext(big, 0, big.length);
    server.writePlaintext(Buffer.from("pong"), 0, 4);
    const { toServer, toClient } = pump(client, server);
    expect(toServer.equals(big)).toBe(true);
    expect(toClient.toString()).toBe("pong");
    for (const s of [client, server]) s.free();
    serverContext.free();
    clientContext.free();
  });

  test("a client with the wrong key fails the handshake on both sides", () => {
    const serverContext = TlsContext.server({ psk: new Map([["alice", key]]) });
    const clientContext = TlsContext.client({ psk: { identity: "alice", key: Buffer.alloc(32, 1) } });
    const server = TlsSession.create(serverContext);
    const client = TlsSession.create(clientContext);
    expect(() => pump(client, server)).toThrow();
    expect(server.handshakeDone).toBe(false);
    for (const s of [client, server]) s.free();
    serverContext.free();
    clientContext.free();
  });

  test("a server context without credentials is refused", () => {
    expect(() => TlsContext.server({})).toThrow(/certificate and key, or a PSK file/);
    expect(() => TlsContext.server({ x509: { certFile: "/nonexistent.pem", keyFile: "/nonexistent.key" } })).toThrow(/cannot load the certificate \/nonexistent.pem/);
  });
});

describe("psktool files", () => {
  test("identity:hexkey lines are read, blank lines skipped", () => {
    const keys = parsePskFile("alice:0011aabb\n\nbob:ff00\n");
    expect([...keys.keys()]).toEqual(["alice", "bob"]);
    expect(keys.get("alice")!.toString("hex")).toBe("0011aabb");
  });

  test("a malformed line is reported with its number", () => {
    expect(() => parsePskFile("alice:0011\nbob=zz\n", "keys.psk")).toThrow("keys.psk line 2: expected identity:hexkey");
    expect(() => parsePskFile("alice:001\n")).toThrow(/line 1/);
    expect(() => parsePskFile("a:00\na:11\n")).toThrow(/appears twice/);
    expect(() => parsePskFile("\n")).toThrow(/no identity/);
  });
});
