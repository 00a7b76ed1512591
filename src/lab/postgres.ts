import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { asServerUser, ensureDatabase, initCluster, isCluster, ownByServerUser, serverArgv, serverUserIds, socketUrl } from "../db/postgres-cluster.ts";
import { ensureDir, writeFileAtomic } from "../util/fs.ts";

/**
 * `lab up --metadata postgres`: a PostgreSQL cluster in node01's data dir
 * (Debian's server binaries, db/postgres-cluster.ts) that the controller and
 * the gateways of node01 and node02 keep their metadata in. It is kept
 * across `lab down`/`lab up` like every node's data.
 */

/** The role the lab's services log in as, and their databases. */
const role = "photon";
export const labDatabases = { controller: "photon_controller", s3: "photon_s3" } as const;

/** Where the lab's cluster lives: `<node01>/postgres`, the server user's alone (0700). */
export interface LabPostgresFiles {
  /** The socket directory too. */
  dir: string;
  dataDir: string;
  /** The role's password (TCP logins need it; the unix socket is trusted, its directory closed to others). */
  passwordFile: string;
}

export function labPostgresFiles(node01Dir: string): LabPostgresFiles {
  const dir = join(node01Dir, "postgres");
  return { dir, dataDir: join(dir, "data"), passwordFile: join(dir, "password") };
}

/** What the topology runs and hands out: the server's argv, where it listens, and each service's URL. */
export interface LabPostgresPlan {
  command: string[];
  listen: { host: string; port: number };
  /** Over the unix socket, as the role, to database `postgres`: the health check and database creation. */
  adminUrl: string;
  /** Over TCP with the password, one per database (PHOTON_METADATA of the services). */
  urls: Record<keyof typeof labDatabases, string>;
  /** The S3 database's URL without the password, for the operator (`lab status`). */
  shownUrl: string;
}

/** The server on `host:port` (node01's address): its argv run as the server user, with the lab's URLs. */
export function labPostgresPlan(files: LabPostgresFiles, host: string, port: number, password: string): LabPostgresPlan {
  const listen = { host, port };
  // SIGTERM when the lab dies: the outer setpriv's parent-death signal does not survive the user change.
  const command = asServerUser(serverArgv(files.dataDir, { socketDir: files.dir, listen }), "SIGTERM");
  const tcp = (db: string, secret = `:${encodeURIComponent(password)}`) => `postgres://${role}${secret}@${host}:${port}/${db}`;
  return {
    command,
    listen,
    adminUrl: socketUrl(role, files.dir, "postgres", port),
    urls: { controller: tcp(labDatabases.controller), s3: tcp(labDatabases.s3) },
    shownUrl: tcp(labDatabases.s3, ""),
  };
}

/**
 * Makes the cluster on the first `lab up --metadata postgres` (initdb, a
 * random password for the role), and on every one makes sure the server user
 * can reach it. Returns the password.
 */
export function prepareLabPostgres(labDir: string, files: LabPostgresFiles): string {
  ensureDir(files.dir, 0o700);
  ownByServerUser(files.dir);
  letServerUserReach(labDir, files.dir);
  if (!existsSync(files.passwordFile)) {
    writeFileAtomic(files.passwordFile, randomBytes(18).toString("base64url") + "\n", 0o600);
    ownByServerUser(files.passwordFile);
  }
  // samenet: the server listens on node01's address only, and lets in the nodes of its subnet (the lab's /24, or loopback).
  if (!isCluster(files.dataDir)) initCluster(files.dataDir, { superuser: role, passwordFile: files.passwordFile, hosts: "samenet" });
  return readFileSync(files.passwordFile, "utf8").trim();
}

/** Creates the services' databases once the server answers (each only if missing). */
export async function createLabDatabases(plan: LabPostgresPlan): Promise<void> {
  for (const db of Object.values(labDatabases)) await ensureDatabase(plan.adminUrl, db);
}

/**
 * The server runs as `postgres` (when the lab runs as root), which must
 * traverse the lab dir and node01's to reach its own. Those two the lab
 * opens to the `postgres` group (execute only, when their group is root's);
 * a parent it cannot pass is an error naming it.
 */
function letServerUserReach(labDir: string, target: string): void {
  const ids = serverUserIds();
  if (!ids || canReach(target)) return;
  for (let dir = dirname(target); dir.startsWith(labDir); dir = dirname(dir)) {
    const st = statSync(dir);
    if (st.gid === 0) chownSync(dir, st.uid, ids.gid);
    if (st.gid === 0 || st.gid === ids.gid) chmodSync(dir, (st.mode & 0o7777) | 0o010);
  }
  if (!canReach(target)) {
    throw new Error(`PostgreSQL runs as the postgres user, which cannot reach ${target}: choose a --dir it can reach (e.g. under /var/tmp), or let it through the parents of ${labDir} (chmod o+x)`);
  }
}

function canReach(dir: string): boolean {
  return Bun.spawnSync(asServerUser(["test", "-x", dir, "-a", "-w", dir]), { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}
