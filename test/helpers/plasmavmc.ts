import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "./cluster.ts";
import { startExport, type TestExport } from "./nbd-export.ts";
import { runPhoton, type PhotonProcess } from "./photon.ts";
import { startGateway, type TestGateway } from "./s3-gateway.ts";

/** A whole PlasmaVMC setup on loopback: central nbd-export, s3-gateway, controller wired to both, and agents. */
export interface PlasmaCluster {
  /** The running controller (a test that restarts it puts the new one here). */
  controller: TestController;
  central: TestExport;
  gateway: TestGateway;
  agents: { name: string; dataDir: string; proc: PhotonProcess }[];
  /** Runs `photon …` against the controller. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Calls the controller's API. */
  api(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts the services in `dir` (one sub-dir each), sharing one cluster token as an operator would. */
export async function startPlasmaCluster(dir: string, options: { agents?: number; controllerArgs?: string[] } = {}): Promise<PlasmaCluster> {
  const token = "test-token-" + crypto.randomUUID();
  const central = await startExport({ dir: join(dir, "central"), token });
  const gateway = await startGateway({ token });
  const keyFile = join(dir, "s3-key");
  writeFileSync(keyFile, `AWS_ACCESS_KEY_ID=${gateway.credentials.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${gateway.credentials.secretAccessKey}\n`, { mode: 0o600 });
  const controllerDir = join(dir, "controller");
  const controller = await startController(controllerDir, ["--token", token, "--coronafs", central.admin, "--s3-endpoint", gateway.endpoint, "--s3-key-file", keyFile, "--node-timeout", "5000", ...(options.controllerArgs ?? [])]);
  const agents: PlasmaCluster["agents"] = [];
  for (let i = 1; i <= (options.agents ?? 0); i++) {
    const name = `worker${i}`;
    const dataDir = join(dir, name);
    agents.push({ name, dataDir, proc: await startAgent(controller, dataDir, name) });
  }
  const env = { PHOTON_TOKEN: token, PHOTON_SERVER: controller.url };
  const cluster: PlasmaCluster = {
    controller,
    central,
    gateway,
    agents,
    cli: (...args) => runPhoton(args, { env }),
    api: (method, path, body) =>
      fetch(controller.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    async stop() {
      for (const agent of agents) await agent.proc[Symbol.asyncDispose]();
      await cluster.controller.proc[Symbol.asyncDispose]();
      await gateway[Symbol.asyncDispose]();
      await central[Symbol.asyncDispose]();
    },
  };
  return cluster;
}
