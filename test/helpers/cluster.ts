import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startPhoton, type PhotonProcess } from "./photon.ts";
import { metadataArgs } from "./postgres.ts";

/** A controller on port 0 with its data dir and token. */
export interface TestController {
  proc: PhotonProcess;
  url: string;
  token: string;
  dataDir: string;
}

/**
 * Starts a controller with a short node timeout, reusing `dataDir` across
 * restarts (and its database, on the suite's engine: postgres.ts); `listen`
 * is `host:port` (default 127.0.0.1:0, the kernel picks).
 */
export async function startController(dataDir: string, extra: string[] = [], listen: number | string = 0): Promise<TestController> {
  const address = typeof listen === "number" ? `127.0.0.1:${listen}` : listen;
  const metadata = extra.includes("--metadata") ? [] : await metadataArgs(dataDir);
  const proc = startPhoton(["controller", "--data-dir", dataDir, "--listen", address, "--node-timeout", "600", ...metadata, ...extra]);
  const url = await proc.url();
  const given = extra.indexOf("--token");
  const token = given >= 0 ? extra[given + 1]! : readFileSync(join(dataDir, "cluster-token"), "utf8").trim();
  return { proc, url, token, dataDir };
}

/** Starts an agent that heartbeats every 100 ms (on `port`, 0 for any), `extra` added to its arguments; the token comes through the environment. */
export async function startAgent(controller: { url: string; token: string }, dataDir: string, name: string, port = 0, extra: string[] = []): Promise<PhotonProcess> {
  const proc = startPhoton(
    ["agent", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, "--controller", controller.url, "--name", name, "--heartbeat-interval", "100", ...extra],
    { env: { PHOTON_TOKEN: controller.token } },
  );
  await proc.url();
  return proc;
}

/** A random loopback address in 127.64.0.0/10, where nothing else listens: its port is free before the process that will take it starts. */
export function privateLoopback(port = 7070): string {
  const byte = () => 1 + Math.floor(Math.random() * 254);
  return `127.${64 + Math.floor(Math.random() * 64)}.${byte()}.${byte()}:${port}`;
}
