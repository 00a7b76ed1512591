import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asServerUser, initCluster, ownByServerUser, postgresBinDir, runPostgresProgram, serverOptions, socketUrl } from "../../src/db/postgres-cluster.ts";

/**
 * A throwaway PostgreSQL cluster: initdb in a temp dir, the server on a unix
 * socket in that dir (no TCP port), trust auth for the `photon` role.
 * `stop()` shuts it down and removes the dir.
 */
export interface TestPostgres {
  dir: string;
  /** A URL for database `db` (`postgres://photon@localhost/db?host=<dir>`). */
  url(db?: string): string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown: open connections are closed), keeping its data. */
  stopServer(): void;
  /** Starts the stopped server again on the same data and socket. */
  startServer(): void;
  stop(): void;
}

/**
 * A guardian shell that stops the cluster and removes its dir once this
 * process has gone, however it went (bun test does not run `exit`
 * handlers): a cluster never outlives its test run.
 */
function guard(dir: string, data: string): void {
  const stop = asServerUser([join(postgresBinDir(), "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]).map((arg) => `'${arg}'`).join(" ");
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; [ -d '${data}' ] && ${stop} >/dev/null 2>&1; rm -rf '${dir}'`;
  Bun.spawn(["sh", "-c", script], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).unref();
}

/** Starts a new cluster in a temp dir. */
export function startPostgres(): TestPostgres {
  const dir = mkdtempSync(join(tmpdir(), "photon-pg-"));
  ownByServerUser(dir);
  const data = join(dir, "data");
  initCluster(data, { superuser: "photon", noSync: true });
  const start = () => runPostgresProgram("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-o", serverOptions({ socketDir: dir }).join(" "), "start"]);
  start();
  guard(dir, data);
  const url = (db = "postgres") => socketUrl("photon", dir, db);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      runPostgresProgram("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return {
    dir,
    url,
    async createDatabase() {
      const name = `photon_${crypto.randomUUID().replaceAll("-", "")}`;
      const admin = new SQL(url());
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.close();
      }
      return url(name);
    },
    stopServer: () => runPostgresProgram("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    startServer: start,
    stop,
  };
}

let shared: TestPostgres | undefined;

/** One cluster for the whole test process, started on first use and stopped once the process has gone (guard). */
export function sharedPostgres(): TestPostgres {
  shared ??= startPostgres();
  return shared;
}

/**
 * The metadata engine the S3 and controller suites run against:
 * `PHOTON_TEST_METADATA=postgres` runs them on PostgreSQL (scripts/test does,
 * for a representative set of files), otherwise on the default SQLite.
 */
export const testMetadata: "sqlite" | "postgres" = process.env.PHOTON_TEST_METADATA === "postgres" ? "postgres" : "sqlite";

const databases = new Map<string, string>();

/**
 * The `--metadata` arguments for a server under test: none for SQLite; on
 * PostgreSQL a fresh database, or the one already made for `dataDir` (a
 * restarted server finds its metadata again).
 */
export async function metadataArgs(dataDir?: string): Promise<string[]> {
  if (testMetadata === "sqlite") return [];
  let url = dataDir === undefined ? undefined : databases.get(dataDir);
  if (url === undefined) {
    url = await sharedPostgres().createDatabase();
    if (dataDir !== undefined) databases.set(dataDir, url);
  }
  return ["--metadata", url];
}
