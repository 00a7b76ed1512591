import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key, as PEM files. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/**
 * Runs the `openssl` CLI (Debian's `openssl` package, in scripts/setup):
 * X.509 is made by OpenSSL, never by hand. Keys are written 0600.
 */
function openssl(args: string[]): void {
  const proc = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, OPENSSL_CONF: "/dev/null" } });
  if (proc.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${proc.stderr.toString().trim()}`);
}

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"];

/** The CA of `dir` (`ca.pem`, `ca-key.pem`), made on first use: a lab's own, trusted only by what is given `--ca`. */
export function ensureCa(dir: string, name = "Photon lab CA"): CertificateFiles {
  const files = { cert: join(dir, "ca.pem"), key: join(dir, "ca-key.pem") };
  if (existsSync(files.cert) && existsSync(files.key)) return files;
  openssl([
    "req", "-x509", ...ecKey, "-keyout", files.key, "-out", files.cert, "-days", "3650", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return files;
}

/**
 * Issues `<name>.pem` and `<name>-key.pem` in `dir`, signed by `ca`, for
 * `hosts` (IP addresses and DNS names, in subjectAltName: what clients
 * check). Valid for `days`; an existing pair is replaced.
 */
export function issueCertificate(ca: CertificateFiles, dir: string, name: string, hosts: string[], days = 90): CertificateFiles {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  const work = mkdtempSync(join(tmpdir(), "photon-cert-"));
  try {
    const csr = join(work, "req.csr");
    const extensions = join(work, "ext.cnf");
    const names = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
    writeFileSync(extensions, `subjectAltName=${names}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n`);
    openssl(["req", "-new", ...ecKey, "-keyout", files.key, "-out", csr, "-subj", `/CN=${name}`]);
    openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", `0x${crypto.randomUUID().replaceAll("-", "")}`, "-days", String(days), "-extfile", extensions, "-out", files.cert]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return files;
}
