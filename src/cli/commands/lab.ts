import { defineCommand } from "citty";
import { dirname, resolve } from "node:path";
import { labDown } from "../../lab/down.ts";
import { readLabState } from "../../lab/state.ts";
import { envLines, labStatus, usage } from "../../lab/status.ts";
import type { LabNetwork } from "../../lab/topology.ts";
import { labUp, type RunningLab } from "../../lab/up.ts";
import type { Logger } from "../../util/log.ts";
import { commonArgs } from "../args.ts";
import { benchCommands } from "./lab-bench.ts";
import { numberOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { print, renderTable } from "../output.ts";

const labDirArg = { type: "string", description: "lab directory (default ./photon-lab)" } as const;

/** `photon lab …`: a whole Photon cluster on this machine. */
export default defineCommand({
  meta: { name: "lab", description: "Run a multi-node Photon lab on this machine" },
  subCommands: {
    up: defineCommand({
      meta: { name: "up", description: "Start node01 (controller, nbd-export, s3-gateway, agent) and node02..nodeNN agents, supervised; stop with Ctrl-C or lab down" },
      args: {
        config: commonArgs.config,
        "log-level": commonArgs["log-level"],
        dir: { type: "string", description: "lab directory, one data dir per node (default ./photon-lab)" },
        nodes: { type: "string", description: "number of nodes, 1..16 (default 5)" },
        network: { type: "string", description: "netns (a namespace per node on a bridge; needs root, default as root) or loopback (node N on 127.0.1.N)" },
        subnet: { type: "string", description: "netns: the lab's 198.18.N.0/24 (default a /24 of 198.18.0.0/15 no interface here uses)" },
        "link-rate": { type: "string", description: "netns: shape each node's link both ways with tbf, e.g. 1gbit" },
        "link-delay": { type: "string", description: "netns: delay each node's link both ways with netem, e.g. 0.2ms (skipped with a warning if the kernel lacks netem)" },
        "base-port": { type: "string", description: "controller port; each node's agent base+1, node01's nbd-export admin base+2, s3-gateway admin base+3 (default 7070)" },
        "nbd-port": { type: "string", description: "NBD port of node01's export (default 10809)" },
        "s3-port": { type: "string", description: "S3 port of node01's gateway (default 9000)" },
        tls: { type: "boolean", description: "every HTTP listener on TLS: a lab CA (<dir>/tls/ca.pem, kept) and a certificate per node; clients take --ca <dir>/tls/ca.pem" },
        metadata: { type: "string", description: "sqlite (default: a file per service) or postgres: a PostgreSQL on node01 (port base+4, kept in <dir>/node01/postgres) for the controller and two gateways, node01's and node02's, serving one namespace" },
      },
      async run({ args }) {
        const { sources, log } = commandContext(args, "lab");
        const nodes = numberOption(sources, "nodes", 5);
        if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new CliError("--nodes: expected 1..16");
        const network = networkOption(sources);
        const linkRate = option(sources, "link-rate");
        const linkDelay = option(sources, "link-delay");
        if (network === "loopback" && (linkRate || linkDelay)) throw new CliError("--link-rate/--link-delay shape the nodes' veths: they need --network netns");
        // The flag alone: PHOTON_METADATA in the shell names a database URL for a service, not the lab's choice.
        const metadata = args.metadata ?? "sqlite";
        if (metadata !== "sqlite" && metadata !== "postgres") throw new CliError(`--metadata: sqlite or postgres, not "${metadata}"`);
        const dir = labDir(sources);
        const stopping = stopSignals(log);
        let lab: RunningLab;
        try {
          lab = await labUp(
            {
              dir,
              nodes,
              network,
              subnet: option(sources, "subnet"),
              basePort: numberOption(sources, "base-port", 7070),
              nbdPort: numberOption(sources, "nbd-port", 10809),
              s3Port: numberOption(sources, "s3-port", 9000),
              linkRate,
              linkDelay,
              tls: args.tls === true,
              metadata,
            },
            log,
            stopping,
          );
        } catch (err) {
          throw new CliError(`lab up: ${(err as Error).message}`);
        }
        const { state } = lab;
        console.log(renderTable(state.endpoints, [
          { header: "node", value: (e) => e.node },
          { header: "service", value: (e) => e.service },
          { header: "endpoint", value: (e) => e.url },
        ]));
        console.log("\n" + Object.entries(usage(state, dir)).map(([k, v]) => `${(k + ":").padEnd(14)} ${v}`).join("\n"));
        console.log(`\nPhoton lab is up (${state.nodes.length} nodes, ${state.network}); Ctrl-C or photon lab down --dir ${dir} stops it.`);
        if (!stopping.aborted) await new Promise((resolve) => stopping.addEventListener("abort", resolve));
        await lab.stop();
        log.info("stopped");
        process.exit(0);
      },
    }),
    status: defineCommand({
      meta: { name: "status", description: "Show the nodes, services (health, restarts) and endpoints of the lab running in --dir, and how to use them" },
      args: { dir: labDirArg, json: { type: "boolean", description: "print JSON instead of tables" } },
      async run({ args }) {
        const { sources } = commandContext(args, "lab");
        const dir = labDir(sources);
        const state = readLabState(dir);
        if (!state) throw new CliError(`no lab is running in ${dir}`);
        const status = await labStatus(state, dir);
        print(args.json, status, () =>
          [
            `lab in ${dir}: ${state.phase}, ${state.network}${state.subnet ? ` ${state.subnet} (bridge ${state.bridge}, host ${state.hostAddress})` : ""}, pid ${state.pid}`,
            "",
            renderTable(status.services, [
              { header: "node", value: (s) => s.node },
              { header: "service", value: (s) => s.mode },
              { header: "pid", value: (s) => s.pid },
              { header: "state", value: (s) => (s.healthy ? "healthy" : s.state === "up" ? "unhealthy" : s.state) },
              { header: "restarts", value: (s) => s.restarts },
              { header: "address", value: (s) => state.nodes.find((n) => n.name === s.node)?.address },
            ]),
            "",
            renderTable(status.endpoints, [
              { header: "node", value: (e) => e.node },
              { header: "service", value: (e) => e.service },
              { header: "endpoint", value: (e) => e.url },
              { header: "state", value: (e) => (e.up ? "up" : "down") },
            ]),
            "",
            ...Object.entries(status.usage).map(([k, v]) => `${(k + ":").padEnd(14)} ${v}`),
          ].join("\n"),
        );
        if (status.services.some((s) => !s.healthy) || status.endpoints.some((e) => !e.up)) process.exitCode = 1;
      },
    }),
    down: defineCommand({
      meta: { name: "down", description: "Stop the lab in --dir (as Ctrl-C would) and remove what it created, even if its process died" },
      args: { dir: labDirArg, "log-level": commonArgs["log-level"] },
      async run({ args }) {
        const { sources, log } = commandContext(args, "lab");
        const dir = labDir(sources);
        const result = await labDown(dir, log);
        if ("stopped" in result) console.log(`lab in ${dir} stopped`);
        else if ("cleanedUp" in result) console.log(`no lab was running in ${dir}; removed what one left: ${result.cleanedUp.join(", ")}`);
        else console.log(`no lab is running in ${dir}`);
      },
    }),
    env: defineCommand({
      meta: { name: "env", description: "Print export lines for the lab in --dir: eval \"$(photon lab env)\"" },
      args: { dir: labDirArg },
      run({ args }) {
        const { sources } = commandContext(args, "lab");
        const dir = labDir(sources);
        const state = readLabState(dir);
        if (!state) throw new CliError(`no lab is running in ${dir}`);
        console.log(envLines(state, dirname(process.execPath)).join("\n"));
      },
    }),
    ...benchCommands,
  },
});

function labDir(sources: OptionSources): string {
  return resolve(option(sources, "dir") ?? "photon-lab");
}

function networkOption(sources: OptionSources): LabNetwork {
  const root = process.getuid?.() === 0;
  const network = option(sources, "network") ?? (root ? "netns" : "loopback");
  if (network !== "netns" && network !== "loopback") throw new CliError("--network: expected netns or loopback");
  if (network === "netns" && !root) throw new CliError("--network netns creates namespaces and a bridge: run as root, or use --network loopback");
  return network;
}

/**
 * An AbortSignal that SIGINT, SIGTERM or SIGHUP (the terminal closed) aborts: the lab then
 * stops its services in order and removes its network, never leaving them behind.
 */
function stopSignals(log: Logger): AbortSignal {
  const controller = new AbortController();
  // A hung-up terminal makes every write fail; the shutdown must still run to its end.
  process.stdout.on("error", () => undefined);
  process.stderr.on("error", () => undefined);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) return log.warn("already stopping", { signal });
      log.info("shutting down", { signal });
      controller.abort(signal);
    });
  }
  return controller.signal;
}
