import { defineCommand } from "citty";
import { resolve } from "node:path";
import { labUp } from "../../lab/up.ts";
import { commonArgs } from "../args.ts";
import { numberOption, option } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { renderTable } from "../output.ts";
import { runUntilSignal } from "../run-server.ts";

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
            dir: resolve(option(sources, "dir") ?? "photon-lab"),
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
  },
});
