import { commandName } from "./protocol.ts";

/** Commands counted one by one (NBD_CMD_READ … NBD_CMD_BLOCK_STATUS); anything else counts as the last, `unknown`. */
const COMMANDS = 8;
const UNKNOWN = COMMANDS;
const REQUESTS = 0;
const ERRORS = COMMANDS + 1;
const BYTES_READ = 2 * (COMMANDS + 1);
const BYTES_WRITTEN = BYTES_READ + 1;
const CONNECTIONS = BYTES_READ + 2;
const CELLS = CONNECTIONS + 1;

/** What {@link NbdStats.snapshot} reports. */
export interface NbdStatsSnapshot {
  /** Requests answered, by command name. */
  requests: Record<string, number>;
  /** Requests answered with an error, by command name. */
  errors: Record<string, number>;
  bytesRead: number;
  bytesWritten: number;
  /** Connections that reached the transmission phase. */
  connections: number;
}

/**
 * The NBD server's counters, in one SharedArrayBuffer: every I/O worker
 * adds to it (atomically: raw volumes have a worker per connection), the
 * main thread reads it when `/metrics` is scraped.
 */
export class NbdStats {
  private readonly cells: BigInt64Array;

  /** A fresh set of counters, or a worker's view of the main thread's `buffer`. */
  constructor(readonly buffer = new SharedArrayBuffer(CELLS * 8)) {
    this.cells = new BigInt64Array(buffer);
  }

  /** One request answered: `failed` when with an error; the payload bytes of a READ or WRITE that succeeded. */
  request(command: number, failed: boolean, bytesRead = 0, bytesWritten = 0): void {
    const index = command >= 0 && command < COMMANDS ? command : UNKNOWN;
    Atomics.add(this.cells, REQUESTS + index, 1n);
    if (failed) Atomics.add(this.cells, ERRORS + index, 1n);
    if (bytesRead > 0) Atomics.add(this.cells, BYTES_READ, BigInt(bytesRead));
    if (bytesWritten > 0) Atomics.add(this.cells, BYTES_WRITTEN, BigInt(bytesWritten));
  }

  /** One connection entered the transmission phase. */
  connected(): void {
    Atomics.add(this.cells, CONNECTIONS, 1n);
  }

  snapshot(): NbdStatsSnapshot {
    const read = (cell: number) => Number(Atomics.load(this.cells, cell));
    const byCommand = (base: number) =>
      Object.fromEntries(Array.from({ length: COMMANDS + 1 }, (_, i) => [i === UNKNOWN ? "unknown" : commandName(i).toLowerCase(), read(base + i)]));
    return { requests: byCommand(REQUESTS), errors: byCommand(ERRORS), bytesRead: read(BYTES_READ), bytesWritten: read(BYTES_WRITTEN), connections: read(CONNECTIONS) };
  }
}
