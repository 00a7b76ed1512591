/**
 * The CA certificates (PEM) a client trusts for `https://` servers, from
 * `--ca FILE` / `PHOTON_CA`; undefined trusts the system's roots.
 */
export type TrustedCa = string | undefined;

/** `fetch` options that verify a server's certificate against `ca` (Bun's `tls.ca` replaces the system roots). */
export function fetchTls(ca: TrustedCa): { tls?: { ca: string } } {
  return ca === undefined ? {} : { tls: { ca } };
}
