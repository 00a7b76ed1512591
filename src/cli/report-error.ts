import { ApiError, asUnreachable, UnreachableError } from "../http/admin-client.ts";
import { CliError } from "./errors.ts";

/** How a failed command is reported. */
export interface ReportOptions {
  /** `--json`: the error as one JSON object on stderr. */
  json: boolean;
  /** `--log-level debug`: the stack trace too. */
  debug: boolean;
}

/** A failure in an operator's words: what failed, what fixes it, the exit status. */
export interface Failure {
  message: string;
  hint?: string;
  /** The HTTP status an admin API answered with. */
  status?: number;
  exitCode: number;
}

/** The mode whose admin API listens on each default port, to say which server is not running. */
const modeByPort: Record<string, string> = { "7070": "photon controller", "7071": "photon agent", "7072": "photon nbd-export", "7073": "photon s3-gateway" };

/** Turns any error a command threw into a {@link Failure}. */
export function describeFailure(err: unknown): Failure {
  // Clients that call fetch themselves leave the URL on Bun's error.
  const path = (err as { path?: unknown } | undefined)?.path;
  const unreachable = err instanceof UnreachableError ? err : typeof path === "string" && URL.canParse(path) ? asUnreachable(err, new URL(path).origin) : undefined;
  if (unreachable) {
    const mode = modeByPort[new URL(unreachable.url).port];
    return { message: unreachable.message, hint: `is ${mode ?? "the Photon server"} running there? set --server or PHOTON_SERVER`, exitCode: 1 };
  }
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? "use the cluster's token: --token, PHOTON_TOKEN or the data dir's cluster-token file" : undefined;
    return { message: err.message, hint, status: err.status, exitCode: 1 };
  }
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof Error && err.name === "CLIError") return { message: err.message, exitCode: 2 }; // citty's usage mistakes
  const message = err instanceof Error ? err.message : String(err);
  return { message, hint: "run with --log-level debug for details", exitCode: 1 };
}

/** Writes the one line (or JSON object) that reports `err` on stderr; returns the exit status. */
export function reportError(err: unknown, options: ReportOptions): number {
  const failure = describeFailure(err);
  failure.message = Bun.stripANSI(failure.message); // citty colours the names in its messages
  const { exitCode, ...shown } = failure;
  if (options.json) console.error(JSON.stringify({ error: shown }));
  else console.error(`error: ${failure.message}${failure.hint ? ` — ${failure.hint}` : ""}`);
  if (options.debug && err instanceof Error && err.stack) console.error(err.stack);
  return exitCode;
}
