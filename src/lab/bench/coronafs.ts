import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VolumeClient } from "../../coronafs/client.ts";
import { onNode, type LabNode } from "../state.ts";
import type { BenchContext, SectionPlan, Step } from "./context.ts";
import { fillWithFio, runFio, type FioJob, type FioTarget } from "./fio.ts";
import { waitForSocket } from "./process.ts";
import type { CoronaColumn, CoronaSection, FioJobKey, FioValues, Materialization } from "./result.ts";

/** The seed's fio jobs; 1 MiB jobs report MiB/s, 4k jobs IOPS. */
export const coronaJobs: Record<FioJobKey, FioJob> = {
  seqWrite: { name: "sequential write", rw: "write", bs: "1M", iodepth: 1 },
  seqRead: { name: "sequential read", rw: "read", bs: "1M", iodepth: 1 },
  randRead: { name: "4k random read", rw: "randread", bs: "4k", iodepth: 1 },
  randReadQ32: { name: "4k random read QD32", rw: "randread", bs: "4k", iodepth: 32 },
  q32Write: { name: "depth-32 write", rw: "write", bs: "1M", iodepth: 32 },
  q32Read: { name: "depth-32 read", rw: "read", bs: "1M", iodepth: 32 },
};

type Column = CoronaColumn | "nbdkit";
const columnNames: Record<Column, string> = { nbdkit: "nbdkit on the worker's file", local: "local disk", controller: "controller export", nodeLocal: "node-local export" };

/**
 * CoronaFS from the worker: fio on its disk, through node01's export over
 * the network, and through its own export after materializing the volume
 * onto it; then materialization onto a second worker and a read there.
 */
export function planCoronafs(ctx: BenchContext): SectionPlan<CoronaSection> {
  const settings = ctx.quick ? { size: "64M", runtimeSeconds: 1, rampSeconds: 0 } : { size: "1G", runtimeSeconds: 10, rampSeconds: 1 };
  const { worker, secondTarget } = ctx.roles;
  const name = `bench-${Date.now().toString(36)}`;
  const central = new VolumeClient(ctx.state.nbdAdminUrl, ctx.token, ctx.ca);
  const agent = (node: LabNode) => new VolumeClient(node.agentUrl, ctx.token, ctx.ca);
  const localFile = join(worker.dataDir, `${name}.fio`);
  // In a TLS lab nbds://: the agents verify it with their --ca, as PlasmaVMC's pulls do; fio finds the CA in libnbd's default place.
  const controllerUri = `${ctx.state.nbdUrl}/${name}`;
  const libnbd = libnbdHome(ctx.state.nbdTlsDir);
  const nbdkitSocket = join(worker.dataDir, `${name}.nbdkit.sock`);
  const targets: Partial<Record<Column, FioTarget>> = {
    local: { file: localFile },
    controller: { uri: controllerUri },
    nbdkit: { uri: `nbd+unix:///?socket=${nbdkitSocket}` },
  };
  const columns = { local: {}, controller: {}, nodeLocal: {}, nbdkit: {} } as Record<Column, Partial<FioValues>>;
  let nbdkit: ReturnType<typeof Bun.spawn> | undefined;
  const materialized: LabNode[] = [];
  const materialize: Materialization[] = [];
  let secondNodeRead: CoronaSection["secondNodeRead"];

  const wrap = (node: LabNode) => (argv: string[]) => onNode(node, [...libnbd.env, ...argv]);
  const fio = (node: LabNode, job: FioJob, target: FioTarget) =>
    runFio(job, target, settings.runtimeSeconds, settings.size, { rampSeconds: settings.rampSeconds, wrap: wrap(node) });
  const jobSteps = (column: Column): Step[] =>
    Object.entries(coronaJobs).map(([key, job]) => ({
      label: `${columnNames[column]}: ${job.name} (${worker.name})`,
      async run() {
        const r = await fio(worker, job, targets[column]!);
        columns[column][key as FioJobKey] = job.bs === "4k" ? r.iops : r.mibps;
      },
    }));
  const materializeStep = (node: LabNode): Step => ({
    label: `materialize ${settings.size} onto ${node.name}`,
    async run() {
      const started = performance.now();
      const volume = await agent(node).create({ name, source: controllerUri });
      const seconds = (performance.now() - started) / 1000;
      materialized.push(node);
      const bytes = volume.sizeBytes;
      materialize.push({ node: node.name, seconds, bytes, mibps: bytes / (1024 * 1024) / seconds });
      if (node === worker) targets.nodeLocal = { uri: volume.uris.unix! };
      else {
        const r = await fio(node, coronaJobs.seqRead, { uri: volume.uris.unix! });
        secondNodeRead = { node: node.name, mibps: r.mibps };
      }
    },
  });

  const steps: Step[] = [
    {
      label: `create and fill a ${settings.size} volume on node01's export`,
      async run() {
        await central.create({ name, size: settings.size });
        await fillWithFio({ uri: controllerUri }, settings.size, { wrap: wrap(worker) });
        await fillWithFio({ file: localFile }, settings.size, { wrap: wrap(worker) });
      },
    },
    ...jobSteps("local"),
    ...jobSteps("controller"),
    materializeStep(worker),
    ...jobSteps("nodeLocal"),
    {
      label: `start nbdkit on ${worker.name}'s copy of the data`,
      async run() {
        nbdkit = Bun.spawn(onNode(worker, ["nbdkit", "--foreground", "--unix", nbdkitSocket, "file", `file=${localFile}`]), { stdout: "ignore", stderr: "inherit" });
        await waitForSocket(nbdkitSocket);
      },
    },
    ...jobSteps("nbdkit"),
    ...(secondTarget ? [materializeStep(secondTarget)] : []),
  ];
  return {
    steps,
    async cleanup() {
      nbdkit?.kill("SIGTERM");
      await nbdkit?.exited;
      rmSync(localFile, { force: true });
      libnbd.remove();
      rmSync(nbdkitSocket, { force: true });
      for (const node of materialized) await agent(node).delete(name, true);
      await central.delete(name, true).catch((err: unknown) => {
        // Absent when creating it failed; anything else is worth knowing.
        if (!String(err).includes("404")) throw err;
      });
    },
    result: () => ({
      status: "measured",
      worker: worker.name,
      fio: {
        ...settings,
        cache: "buffered I/O through the page cache on both ends (fio `direct=0`, `invalidate=0`)",
        engines: "local disk with `psync` (`libaio` at depth 32), exports with fio's `nbd` engine (libnbd)",
      },
      columns: { local: columns.local, controller: columns.controller, nodeLocal: columns.nodeLocal } as Record<CoronaColumn, FioValues>,
      nbdkit: columns.nbdkit as FioValues,
      materialize,
      secondNodeRead,
    }),
  };
}

/**
 * fio's nbd engine lets libnbd read no file a URI names (`tls-certificates`), so in a TLS lab
 * the lab CA goes where libnbd looks by default: `$HOME/.pki/libnbd` of a HOME made for fio.
 * As root libnbd reads /etc/pki/libnbd instead, and libnbd 1.14 without it accepts an unknown
 * CA: the connection is encrypted all the same, but then fio does not check the certificate.
 */
function libnbdHome(nbdTlsDir: string | undefined): { env: string[]; remove(): void } {
  if (nbdTlsDir === undefined) return { env: [], remove() {} };
  const home = mkdtempSync(join(tmpdir(), "photon-bench-libnbd-"));
  mkdirSync(join(home, ".pki", "libnbd"), { recursive: true });
  copyFileSync(join(nbdTlsDir, "ca-cert.pem"), join(home, ".pki", "libnbd", "ca-cert.pem"));
  return { env: ["env", `HOME=${home}`], remove: () => rmSync(home, { recursive: true, force: true }) };
}
