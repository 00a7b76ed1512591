import { sentToken, type TokenLike } from "../util/token.ts";
import { fetchTls, type TrustedCa } from "./client-tls.ts";
import { FailoverUrls } from "./failover-urls.ts";

/**
 * The header a standby (a process waiting for the lease of its duty, e.g. a
 * second controller) sets on every answer: a client given several URLs moves on.
 */
export const STANDBY_HEADER = "photon-role";

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

/** Whether `err` is a standby's refusal (`503 standby`): another process is, or is about to be, the active one. */
export function isStandbyRefusal(err: unknown): boolean {
  return err instanceof ApiError && err.status === 503 && (err.problem?.type?.endsWith("standby") ?? false);
}

/** An admin API that could not be reached at all: no answer, not a refusal. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    /** What the connection attempt met, e.g. `connection refused`. */
    readonly reason: string,
    options?: ErrorOptions,
    message = `cannot reach ${url} (${reason})`,
  ) {
    super(message, options);
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

/**
 * A small typed client for any Photon admin API (bearer token, problem+json
 * errors). Given several base URLs (comma-separated), it sends to the last one
 * that answered and, when that one cannot be reached or is a standby, to the
 * next, once around the list.
 */
export class AdminClient {
  private readonly urls: FailoverUrls;
  constructor(
    /** The API's base URL, or several comma-separated (processes of which one is active). */
    baseUrl: string,
    protected readonly token: TokenLike,
    /** The CA an https:// server's certificate is verified against. */
    protected readonly ca?: TrustedCa,
  ) {
    this.urls = new FailoverUrls(baseUrl);
  }

  /** The base URL requests go to first: the last one that answered. */
  get baseUrl(): string {
    return this.urls.preferred;
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
   * `fetch` against the API, a failure to connect turned into an
   * {@link UnreachableError}; with several URLs, the first that answers and
   * is not a standby (a streamed body, which cannot be sent twice, goes to
   * the one that answers `/healthz` as active). Without Bun's 300 s idle
   * timeout: a materialize, a base build or a VM start says nothing until it
   * is done, and a followed console can be quiet for long.
   */
  protected async send(path: string, init: RequestInit): Promise<Response> {
    const order = this.urls.order();
    if (order.length > 1 && init.body instanceof ReadableStream) {
      await (await this.send("/healthz", { signal: init.signal })).body?.cancel();
      return this.fetchFrom(this.urls.preferred, path, init);
    }
    const tried: string[] = [];
    let unreachable: UnreachableError | undefined;
    for (const url of order) {
      try {
        const response = await this.fetchFrom(url, path, init);
        if (order.length === 1 || response.headers.get(STANDBY_HEADER) !== "standby") {
          this.urls.answered(url);
          return response;
        }
        await response.body?.cancel();
        tried.push(`${url} (standby)`);
      } catch (err) {
        if (!(err instanceof UnreachableError)) throw err;
        unreachable = err;
        tried.push(`${url} (${err.reason})`);
      }
    }
    throw noneAnswered(tried, unreachable);
  }

  private async fetchFrom(url: string, path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url + path, { ...init, timeout: false, ...fetchTls(this.ca) } as RequestInit);
    } catch (err) {
      throw asUnreachable(err, url) ?? err;
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

/**
 * The error when no URL of the list served a request, naming each with what
 * it met (`tried`): the standby's 503 if one answered, else unreachable.
 */
function noneAnswered(tried: readonly string[], unreachable: UnreachableError | undefined): Error {
  if (tried.length === 1 && unreachable) return unreachable;
  const what = tried.join(", ");
  if (!unreachable || tried.some((t) => t.endsWith("(standby)"))) {
    return new ApiError(503, { type: "standby", title: "Standby" }, `no active server among ${what}: a standby takes over once the active one's lease runs out`);
  }
  return new UnreachableError(unreachable.url, what, { cause: unreachable }, `cannot reach any of ${what}`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
