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

/** A small typed client for any Photon admin API (bearer token, problem+json errors). */
export class AdminClient {
  readonly baseUrl: string;
  constructor(
    baseUrl: string,
    protected readonly token: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /** Sends a request; resolves to the parsed JSON body (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    return this.parse<T>(method, path, response);
  }

  /** Turns a response into its JSON body, or an {@link ApiError} carrying the problem. */
  protected async parse<T>(method: string, path: string, response: Response): Promise<T> {
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const parsed = text === "" ? undefined : safeJson(text);
    if (!response.ok) {
      const problem = parsed as { detail?: string; title?: string } | undefined;
      throw new ApiError(response.status, problem, `${method} ${path}: ${response.status} ${problem?.detail ?? problem?.title ?? text}`);
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
