import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

/** The PEM texts a TLS listener presents. */
export interface CertificatePem {
  cert: string;
  key: string;
}

/** What was learned of a certificate when it was (re)loaded, for the log. */
export interface CertificateInfo {
  subject: string;
  fingerprint256: string;
  validTo: string;
}

/**
 * A server's certificate and key, read from PEM files (`--tls-cert`,
 * `--tls-key`). `reload()` rereads them (on SIGHUP) so a renewed certificate
 * is used from the next connection on; a pair that does not load or does not
 * match leaves the one in use in place. Every listener of a process shares one.
 */
export class ServerCertificate {
  private current: CertificatePem;
  private info: CertificateInfo;

  constructor(
    readonly certPath: string,
    readonly keyPath: string,
  ) {
    [this.current, this.info] = loadPair(certPath, keyPath);
  }

  /** The pair for the next TLS handshake. */
  get pem(): CertificatePem {
    return this.current;
  }

  /** Subject, fingerprint and expiry of the certificate in use. */
  get loaded(): CertificateInfo {
    return this.info;
  }

  /** Rereads both files; throws (keeping the pair in use) when they do not make a usable pair. */
  reload(): CertificateInfo {
    [this.current, this.info] = loadPair(this.certPath, this.keyPath);
    return this.info;
  }
}

/** Reads a certificate chain and its key, and checks that the key belongs to the first certificate. */
function loadPair(certPath: string, keyPath: string): [CertificatePem, CertificateInfo] {
  const cert = readPem(certPath, "certificate");
  const key = readPem(keyPath, "key");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${certPath} holds no PEM certificate: ${(err as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new Error(`${keyPath} holds no PEM private key: ${(err as Error).message}`);
  }
  if (!matches) throw new Error(`${keyPath} is not the key of the certificate in ${certPath}`);
  return [{ cert, key }, { subject: x509.subject.replaceAll("\n", ", "), fingerprint256: x509.fingerprint256, validTo: x509.validTo }];
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`the TLS ${what} ${path} cannot be read: ${(err as Error).message}`);
  }
}
