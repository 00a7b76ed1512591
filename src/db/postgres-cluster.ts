import { SQL } from "bun";
import { appendFileSync, chownSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * A local PostgreSQL cluster run from Debian's `postgresql` server binaries
 * (scripts/setup installs the package): `initdb` a data dir, and the
 * server's options. The lab runs its cluster this way, and the tests and
 * benchmarks their throwaway ones. Debian keeps the binaries off PATH, in
 * /usr/lib/postgresql/<version>/bin.
 */

/** The OS user the server runs as when this process is root: initdb and postgres refuse to run as root. */
const serverUser = "postgres";
const debianRoot = "/usr/lib/postgresql";

/** The newest installed server's bin dir; throws with what to install when there is none. */
export function postgresBinDir(): string {
  const versions = existsSync(debianRoot) ? readdirSync(debianRoot).filter((v) => /^\d+$/.test(v) && existsSync(join(debianRoot, v, "bin", "initdb"))) : [];
  const newest = versions.map(Number).sort((a, b) => b - a)[0];
  if (newest === undefined) throw new Error(`no PostgreSQL server in ${debianRoot}/<version>/bin: install Debian's postgresql package (scripts/setup does)`);
  return join(debianRoot, String(newest), "bin");
}

const asRoot = () => process.getuid?.() === 0;

/**
 * `argv` run as the server user when this process is root. `setpriv` execs
 * in place (no fork), so the PID stays the server's, and it sets the
 * parent-death signal after the user change, which would otherwise clear it
 * (prctl(2), PR_SET_PDEATHSIG).
 */
export function asServerUser(argv: string[], pdeathsig?: NodeJS.Signals): string[] {
  const deathSignal = pdeathsig ? ["--pdeathsig", pdeathsig] : [];
  if (!asRoot()) return deathSignal.length > 0 ? ["setpriv", ...deathSignal, "--", ...argv] : argv;
  return ["setpriv", `--reuid=${serverUser}`, `--regid=${serverUser}`, "--init-groups", ...deathSignal, "--", ...argv];
}

/** The server user's uid and gid (root only; undefined otherwise: the server runs as this process's user). */
export function serverUserIds(): { uid: number; gid: number } | undefined {
  if (!asRoot()) return undefined;
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, serverUser], { stdout: "pipe" }).stdout.toString().trim());
  const ids = { uid: id("-u"), gid: id("-g") };
  if (!Number.isInteger(ids.uid) || ids.uid === 0) throw new Error(`the ${serverUser} user is missing: install Debian's postgresql package (scripts/setup does)`);
  return ids;
}

/** Gives `path` to the server user (a no-op unless root). */
export function ownByServerUser(path: string): void {
  const ids = serverUserIds();
  if (ids) chownSync(path, ids.uid, ids.gid);
}

/** Runs a PostgreSQL program (as the server user) to completion; throws with its output when it fails. */
export function runPostgresProgram(program: string, args: string[]): void {
  const argv = asServerUser([join(postgresBinDir(), program), ...args]);
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${program} failed (${result.exitCode}): ${result.stderr.toString()}${result.stdout.toString()}`);
}

/** How {@link initCluster} sets a new cluster up. */
export interface InitOptions {
  /** The superuser role (the one clients log in as). */
  superuser: string;
  /** Its password, in a file the server user can read; TCP logins then need it (scram-sha-256). Without it, every login is trusted. */
  passwordFile?: string;
  /** Skip initdb's fsyncs: for throwaway clusters only. */
  noSync?: boolean;
  /** With a password: the clients allowed over TCP besides this host's loopback (a pg_hba.conf address, e.g. `samenet`). */
  hosts?: string;
}

/**
 * `initdb` a new cluster in `dataDir` (which must not exist or be empty),
 * UTF-8 with the C.UTF-8 locale. Logins over the unix socket are trusted
 * (it lives in a directory only the server user and root can open).
 */
export function initCluster(dataDir: string, options: InitOptions): void {
  const auth = options.passwordFile ? ["--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${options.passwordFile}`] : ["--auth=trust"];
  runPostgresProgram("initdb", ["-D", dataDir, "-U", options.superuser, "-E", "UTF8", "--locale=C.UTF-8", ...auth, ...(options.noSync ? ["--no-sync"] : [])]);
  // initdb allows TCP from 127.0.0.1 and ::1 only (pg_hba.conf, PostgreSQL docs §21.1).
  if (options.passwordFile && options.hosts) appendFileSync(join(dataDir, "pg_hba.conf"), `host all all ${options.hosts} scram-sha-256\n`);
}

/** Whether `dataDir` holds an initialized cluster. */
export function isCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, "PG_VERSION"));
}

/** Where and how the server listens. */
export interface ServerOptions {
  /** Directory of its unix socket (`.s.PGSQL.<port>`). */
  socketDir: string;
  /** A TCP address too; without it, the unix socket only. */
  listen?: { host: string; port: number };
  maxConnections?: number;
}

/** The server's command-line options (`postgres -D DATA …`, or pg_ctl's `-o`). */
export function serverOptions(options: ServerOptions): string[] {
  const tcp = options.listen ? ["-c", `listen_addresses=${options.listen.host}`, "-p", String(options.listen.port)] : ["-c", "listen_addresses="];
  return ["-k", options.socketDir, ...tcp, "-c", `max_connections=${options.maxConnections ?? 200}`];
}

/** The server's own argv: `postgres -D DATA …` (run it through {@link asServerUser}). */
export function serverArgv(dataDir: string, options: ServerOptions): string[] {
  return [join(postgresBinDir(), "postgres"), "-D", dataDir, ...serverOptions(options)];
}

/** A URL for database `db` over the unix socket in `socketDir` (`?host=` names the directory, as libpq does). */
export function socketUrl(user: string, socketDir: string, db = "postgres", port?: number): string {
  return `postgres://${user}@localhost${port === undefined ? "" : `:${port}`}/${db}?host=${socketDir}`;
}

/** Creates database `name` unless it exists, connected as a superuser at `adminUrl`. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lower-case letters, digits and _ only`);
  const admin = new SQL(adminUrl, { max: 1 });
  try {
    const found = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (found.length === 0) await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
}

/** Whether the server at `url` answers a query within `timeoutMs`. */
export async function postgresAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const client = new SQL(url, { max: 1, connectionTimeout: Math.ceil(timeoutMs / 1000) });
  try {
    const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
    return await Promise.race([client`SELECT 1 AS ok`.then((rows) => rows[0]?.ok === 1), timeout]);
  } catch {
    return false;
  } finally {
    await client.close({ timeout: 0 }); // resolves whether or not it ever connected
  }
}
