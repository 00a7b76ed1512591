import { defineCommand, renderUsage, runCommand } from "citty";
import { version } from "./version.ts";

/** The one Photon binary: every mode and client command. */
const main = defineCommand({
  meta: { name: "photon", version, description: "Photon: block volumes, S3 object storage and VMs for small clouds" },
  subCommands: {
    init: () => import("./cli/commands/init.ts").then((m) => m.default),
    controller: () => import("./cli/commands/controller.ts").then((m) => m.default),
    agent: () => import("./cli/commands/agent.ts").then((m) => m.default),
    status: () => import("./cli/commands/status.ts").then((m) => m.default),
    node: () => import("./cli/commands/node.ts").then((m) => m.default),
    "nbd-export": () => import("./cli/commands/nbd-export.ts").then((m) => m.default),
    volume: () => import("./cli/commands/volume.ts").then((m) => m.default),
    "s3-gateway": () => import("./cli/commands/s3-gateway.ts").then((m) => m.default),
    s3: () => import("./cli/commands/s3.ts").then((m) => m.default),
    image: () => import("./cli/commands/image.ts").then((m) => m.default),
    vm: () => import("./cli/commands/vm.ts").then((m) => m.default),
    lab: () => import("./cli/commands/lab.ts").then((m) => m.default),
    metadata: () => import("./cli/commands/metadata.ts").then((m) => m.default),
  },
});

const rawArgs = process.argv.slice(2);
try {
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    console.log(version);
  } else if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
    await printUsage(rawArgs);
  } else {
    await runCommand(main, { rawArgs });
  }
} catch (err) {
  // The one place where errors become an exit status.
  const { reportError } = await import("./cli/report-error.ts");
  const json = rawArgs.includes("--json");
  // citty reports usage mistakes (unknown command, missing argument) as errors named CLIError.
  if (err instanceof Error && err.name === "CLIError" && !json) await printUsage(rawArgs);
  process.exit(reportError(err, { json, debug: isDebug(rawArgs) }));
}

/** Usage of the command `args` name; colours only on a terminal. */
async function printUsage(args: string[]): Promise<void> {
  const { resolveSubCommand } = await import("./cli/resolve.ts");
  const text = await renderUsage(...(await resolveSubCommand(main, args)));
  console.log(process.stdout.isTTY ? text : Bun.stripANSI(text));
}

/** `--log-level debug` (or PHOTON_LOG_LEVEL=debug): errors show their stack. */
function isDebug(args: string[]): boolean {
  const at = args.indexOf("--log-level");
  return args.includes("--log-level=debug") || (at >= 0 && args[at + 1] === "debug") || process.env.PHOTON_LOG_LEVEL === "debug";
}
