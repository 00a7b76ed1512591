import { defineCommand } from "citty";
import { resolve } from "node:path";
import { endpointUp, isAlive, readLabState } from "../../lab/state.ts";
import { labUp } from "../../lab/up.ts";
import { commonArgs } from "../args.ts";
import { benchCommands } from "./lab-bench.ts";
import { numberOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { print, renderTable } from "../output.ts";
import { runUntilSignal } from "../run-server.ts";

const labDirArg = { type: "string", description: "lab directory (default ./photon-lab)" } as const;

/** `photon lab …`: a whole Photon cluster on this machine. */
export default defineCommand({
  meta: { name: "lab", description: "Run a multi-node Photon lab on this machine" },
  subCommands: {
    up: defineCommand({
      meta: { name: "up", description: "Start node01 (controller, nbd-export, s3-gateway, agent) and node02..nodeNN agents; stop with Ctrl-C" },
      args: {
        config: commonArgs.config,
        "log-level": commonArgs["log-level"],
        dir: { type: "string", description: "lab directory, one data dir per node (default ./photon-lab)" },
        nodes: { type: "string", description: "number of nodes (default 1)" },
        "base-port": { type: "string", description: "controller port; nbd-export admin base+2, node N's agent base+10+N (default 7070)" },
        "nbd-port": { type: "string", description: "NBD port of node01's export (default 10809)" },
        "s3-port": { type: "string", description: "S3 port of node01's gateway (default 9000)" },
      },
      async run({ args }) {
        const { sources, log } = commandContext(args, "lab");
        const nodes = numberOption(sources, "nodes", 1);
        if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new CliError("--nodes: expected 1..16");
        const lab = await labUp(
          {
            dir: labDir(sources),
            nodes,
            basePort: numberOption(sources, "base-port", 7070),
            nbdPort: numberOption(sources, "nbd-port", 10809),
            s3Port: numberOption(sources, "s3-port", 9000),
          },
          log,
        );
        console.log(renderTable(lab.endpoints, [
          { header: "node", value: (e) => e.node },
          { header: "service", value: (e) => e.service },
          { header: "endpoint", value: (e) => e.url },
        ]));
        console.log(
          `\ncluster token: ${lab.tokenFile}\nS3 root key:   ${lab.s3KeyFile} (source it for AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)` +
            `\ntry: PHOTON_TOKEN=$(cat ${lab.tokenFile}) photon node list\n\nPhoton lab is up; Ctrl-C stops it.`,
        );
        await runUntilSignal({ address: { hostname: "127.0.0.1", port: 0 }, stop: lab.stop }, log);
      },
    }),
    status: defineCommand({
      meta: { name: "status", description: "Show the endpoints of the lab running in --dir and whether each answers" },
      args: { dir: labDirArg, json: { type: "boolean", description: "print JSON instead of a table" } },
      async run({ args }) {
        const { sources } = commandContext(args, "lab");
        const dir = labDir(sources);
        const state = readLabState(dir);
        if (!state) throw new CliError(`no lab is running in ${dir}`);
        const endpoints = await Promise.all(state.endpoints.map(async (e) => ({ ...e, up: await endpointUp(e.url) })));
        print(args.json, { ...state, endpoints }, () =>
          renderTable(endpoints, [
            { header: "node", value: (e) => e.node },
            { header: "service", value: (e) => e.service },
            { header: "endpoint", value: (e) => e.url },
            { header: "state", value: (e) => (e.up ? "up" : "down") },
          ]),
        );
        if (endpoints.some((e) => !e.up)) process.exitCode = 1;
      },
    }),
    down: defineCommand({
      meta: { name: "down", description: "Stop the lab running in --dir (as Ctrl-C would) and wait for it" },
      args: { dir: labDirArg },
      async run({ args }) {
        const { sources } = commandContext(args, "lab");
        const dir = labDir(sources);
        const state = readLabState(dir);
        if (!state) throw new CliError(`no lab is running in ${dir}`);
        process.kill(state.pid, "SIGTERM");
        const deadline = Date.now() + 30_000;
        while (isAlive(state.pid)) {
          if (Date.now() > deadline) throw new CliError(`the lab (pid ${state.pid}) did not stop within 30 s`);
          await Bun.sleep(50);
        }
        console.log(`lab in ${dir} stopped`);
      },
    }),
    ...benchCommands,
  },
});

function labDir(sources: OptionSources): string {
  return resolve(option(sources, "dir") ?? "photon-lab");
}
