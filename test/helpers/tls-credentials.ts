import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mustRun } from "./nbd-export.ts";

/**
 * Test credentials made with GnuTLS's own tools, laid out as QEMU and libnbd
 * read them: `psk/keys.psk` (psktool), and a CA with a server certificate
 * for localhost/127.0.0.1 (`server/`: ca-cert.pem, server-cert.pem,
 * server-key.pem) and client certificates (`client-NAME/`: ca-cert.pem,
 * client-cert.pem, client-key.pem; CN = NAME), plus `ca-only/` (just ca-cert.pem).
 */
export async function makeTlsCredentials(dir: string, options: { pskUsers: string[]; clients: string[] }): Promise<TlsCredentials> {
  const psk = join(dir, "psk");
  mkdirSync(psk, { recursive: true });
  for (const user of options.pskUsers) await mustRun(["psktool", "-u", user, "-p", join(psk, "keys.psk")]);

  const ca = join(dir, "ca");
  mkdirSync(ca, { recursive: true });
  await certificate(ca, "ca", 'cn = "Photon test CA"\nca\ncert_signing_key\nexpiration_days = 2\n');
  const server = join(dir, "server");
  mkdirSync(server);
  await certificate(
    server,
    "server",
    'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n',
    ca,
  );
  const clients: Record<string, string> = {};
  for (const name of options.clients) {
    const client = join(dir, `client-${name}`);
    mkdirSync(client);
    await certificate(client, "client", `cn = "${name}"\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n`, ca);
    clients[name] = client;
  }
  const caOnly = join(dir, "ca-only");
  mkdirSync(caOnly);
  writeFileSync(join(caOnly, "ca-cert.pem"), await Bun.file(join(ca, "ca-cert.pem")).text());
  return { pskDir: psk, pskFile: join(psk, "keys.psk"), caFile: join(ca, "ca-cert.pem"), serverDir: server, clientDirs: clients, caOnlyDir: caOnly };
}

export interface TlsCredentials {
  pskDir: string;
  pskFile: string;
  caFile: string;
  serverDir: string;
  clientDirs: Record<string, string>;
  caOnlyDir: string;
}

/** Makes `<role>-key.pem` and `<role>-cert.pem` in `dir`, signed by the CA in `caDir` (self-signed without). */
async function certificate(dir: string, role: string, template: string, caDir?: string): Promise<void> {
  const key = join(dir, `${role}-key.pem`);
  const info = join(dir, `${role}.info`);
  writeFileSync(info, template);
  await mustRun(["certtool", "--generate-privkey", "--key-type=ecdsa", "--outfile", key]);
  const sign = caDir
    ? ["--generate-certificate", "--load-ca-certificate", join(caDir, "ca-cert.pem"), "--load-ca-privkey", join(caDir, "ca-key.pem")]
    : ["--generate-self-signed"];
  await mustRun(["certtool", ...sign, "--load-privkey", key, "--template", info, "--outfile", join(dir, `${role}-cert.pem`)]);
  if (caDir) writeFileSync(join(dir, "ca-cert.pem"), await Bun.file(join(caDir, "ca-cert.pem")).text());
}
