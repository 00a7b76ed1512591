import { createConnection, type Socket } from "node:net";
import { encodeQmpCommand, QmpLineDecoder, type QmpEvent, type QmpMessage } from "./qmp-messages.ts";

export type { QmpEvent } from "./qmp-messages.ts";

/** A command QEMU answered with an error (its `class` and `desc`). */
export class QmpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = "QmpCommandError";
  }
}

/** No answer (or no greeting) within the timeout. */
export class QmpTimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`QMP ${what}: no answer within ${timeoutMs} ms`);
    this.name = "QmpTimeoutError";
  }
}

/** The monitor connection is gone: QEMU exited, or the socket was never there. */
export class QmpClosedError extends Error {
  constructor(detail: string) {
    super(`QMP connection closed: ${detail}`);
    this.name = "QmpClosedError";
  }
}

/** Options for {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Greeting and capabilities negotiation must finish within this. */
  timeoutMs?: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A client of one QEMU monitor in control mode over its unix socket: greeting,
 * `qmp_capabilities`, then commands matched to answers by `id`, and events
 * delivered to listeners. QEMU serves one client per monitor at a time.
 */
export class QmpClient {
  private readonly decoder = new QmpLineDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private nextId = 1;
  private closedError: Error | undefined;
  private greeted: ((version: string) => void) | undefined;
  /** Resolves once the connection has ended, for whatever reason. */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  /** The QEMU version from the greeting. */
  version = "";

  private constructor(
    private readonly socket: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (err) => this.fail(new QmpClosedError(err.message)));
    socket.on("close", () => this.fail(new QmpClosedError("the socket closed")));
  }

  /** Connects to `path`, waits for the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const socket = createConnection({ path });
    const client = new QmpClient(socket, options.commandTimeoutMs ?? 10_000);
    const greeting = new Promise<string>((resolve, reject) => {
      client.greeted = resolve;
      void client.closed.then(() => reject(client.closedError));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QmpTimeoutError("greeting", timeoutMs)), timeoutMs);
    });
    try {
      client.version = await Promise.race([greeting, timeout]);
      await client.execute("qmp_capabilities", undefined, { timeoutMs });
      return client;
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command; resolves to its `return` value, rejects with a typed error. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject, timer });
      this.socket.write(encodeQmpCommand(command, args, id));
    });
  }

  /** Calls `listener` for every event from now on; returns a function that unsubscribes. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the connection is still up. */
  get open(): boolean {
    return this.closedError === undefined;
  }

  /** Ends the connection; pending commands fail with {@link QmpClosedError}. */
  close(): void {
    this.fail(new QmpClosedError("closed by the agent"));
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    let messages: QmpMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.fail(new QmpClosedError(`unparseable data from QEMU: ${(err as Error).message}`));
      this.socket.destroy();
      return;
    }
    for (const message of messages) this.dispatch(message);
  }

  private dispatch(message: QmpMessage): void {
    switch (message.kind) {
      case "greeting":
        this.greeted?.(message.version);
        this.greeted = undefined;
        return;
      case "event":
        for (const listener of this.listeners) listener(message.event);
        return;
      case "return":
      case "error": {
        const pending = typeof message.id === "number" ? this.pending.get(message.id) : undefined;
        if (!pending) return; // the answer to a command that already timed out
        this.pending.delete(message.id as number);
        clearTimeout(pending.timer);
        if (message.kind === "return") pending.resolve(message.value);
        else pending.reject(new QmpCommandError(pending.command, message.errorClass, message.desc));
      }
    }
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    this.markClosed();
  }
}
