/** Limits that keep a few clients from holding the listener (slowloris and the like). */
export interface ListenerLimits {
  /**
   * A request's head must arrive whole within this long of its first byte;
   * otherwise the answer is 408 and the connection closes. The idle timer
   * alone is reset by every byte, so a byte a second would keep it open.
   */
  headerTimeoutMs: number;
  /** Connections beyond this many are answered 503 SlowDown and closed at once. */
  maxConnections: number;
  /**
   * A request body gets this long, plus a second for every
   * `minBodyBytesPerSecond` bytes received, to arrive (Apache's
   * mod_reqtimeout defaults: body=20,MinRate=500); time the server spends not
   * reading (backpressure) does not count. A body slower than that is cut:
   * 400 RequestTimeout, as S3 answers a client that stops sending, and close.
   */
  bodyGraceMs: number;
  minBodyBytesPerSecond: number;
}

/** What the S3 listener uses unless told otherwise. */
export const DEFAULT_LIMITS: ListenerLimits = { headerTimeoutMs: 10_000, maxConnections: 1024, bodyGraceMs: 20_000, minBodyBytesPerSecond: 500 };

/** Why the listener cut a connection short, as counted on /metrics. */
export type CutReason = "too-many-connections" | "head-timeout" | "body-too-slow";

const TOO_MANY_BODY = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>too many connections; try again</Message></Error>';
/** The answer to a connection beyond the cap: S3's SlowDown, then close. */
export const TOO_MANY = Buffer.from(
  `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: ${TOO_MANY_BODY.length}\r\n\r\n${TOO_MANY_BODY}`,
);
/** The answer to a request head that did not arrive in time. */
export const HEAD_TIMEOUT = Buffer.from("HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");

/** What a request body's stream fails with when it arrived too slowly (the handler answers RequestTimeout). */
export class BodyTooSlowError extends Error {
  constructor(readonly received: number) {
    super(`the request body arrived too slowly (${received} bytes); the connection is closed`);
    this.name = "BodyTooSlowError";
  }
}
