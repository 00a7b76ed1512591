import { sentToken, type TokenLike } from "../util/token.ts";
import { fetchTls, type TrustedCa } from "./client-tls.ts";

/** An error answered by an admin API, carrying its problem document. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { type?: string; title?: string; detail?: string } | undefined,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** An admin API that could not be reached at all: no answer, not a refusal. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    /** What the connection attempt met, e.g. `connection refused`. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot reach ${url} (${reason})`, options);
    this.name = "UnreachableError";
  }
}

/** Bun's fetch error codes in an operator's words. */
const connectionFailures: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ConnectionRefused: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ETIMEDOUT: "timed out",
  Timeout: "timed out",
  ECONNRESET: "connection reset",
  EPROTO: "TLS handshake failed: does the server speak TLS on this port?",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed: pass --ca",
  SELF_SIGNED_CERT_IN_CHAIN: "its certificate is not signed by a trusted CA: pass --ca",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not signed by a trusted CA: pass --ca",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not signed by a trusted CA: pass --ca",
  CERT_HAS_EXPIRED: "its certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "its certificate does not name this host",
  ConnectionClosed: "connection closed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  FailedToOpenSocket: "cannot open a socket",
};

/** A fetch failure that means `url` did not answer, as an {@link UnreachableError}; undefined for any other error. */
export function asUnreachable(err: unknown, url: string): UnreachableError | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  const reason = typeof code === "string" ? connectionFailures[code] : undefined;
  return reason === undefined ? undefined : new UnreachableError(url, reason, { cause: err });
}

/** A small typed client for any Photon admin API (bearer token, problem+json errors). */
export class AdminClient {
  readonly baseUrl: string;
  constructor(
    baseUrl: string,
    protected readonly token: TokenLike,
    /** The CA an https:// server's certificate is verified against. */
    protected readonly ca?: TrustedCa,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /** Sends a request; resolves to the parsed JSON body (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.send(path, {
      method,
      headers: {
        authorization: this.authorization(),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    return this.parse<T>(method, path, response);
  }

  /** The `authorization` header: the cluster token this process sends. */
  protected authorization(): string {
    return `Bearer ${sentToken(this.token)}`;
  }

  /**
   * `fetch` against the API, a failure to connect turned into an {@link UnreachableError}.
   * Without Bun's 300 s idle timeout: a materialize, a base build or a VM start says
   * nothing until it is done, and a followed console can be quiet for long.
   */
  protected async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, { ...init, timeout: false, ...fetchTls(this.ca) } as RequestInit);
    } catch (err) {
      throw asUnreachable(err, this.baseUrl) ?? err;
    }
  }

  /** Turns a response into its JSON body, or an {@link ApiError} carrying the problem. */
  protected async parse<T>(method: string, path: string, response: Response): Promise<T> {
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const parsed = text === "" ? undefined : safeJson(text);
    if (!response.ok) {
      const problem = parsed as { detail?: string; title?: string } | undefined;
      const what = problem?.detail ?? problem?.title ?? (text || response.statusText);
      throw new ApiError(response.status, problem, `${what} (${response.status} from ${method} ${path})`);
    }
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
