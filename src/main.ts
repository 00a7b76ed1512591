import { defineCommand, runCommand, showUsage } from "citty";
import { ApiError } from "./http/admin-client.ts";
import { CliError } from "./cli/errors.ts";
import { version } from "./version.ts";

/** The one Photon binary: every mode and client command. */
const main = defineCommand({
  meta: { name: "photon", version, description: "Photon: block volumes, S3 object storage and VMs for small clouds" },
  subCommands: {
    init: () => import("./cli/commands/init.ts").then((m) => m.default),
    controller: () => import("./cli/commands/controller.ts").then((m) => m.default),
    agent: () => import("./cli/commands/agent.ts").then((m) => m.default),
    node: () => import("./cli/commands/node.ts").then((m) => m.default),
    "nbd-export": () => import("./cli/commands/nbd-export.ts").then((m) => m.default),
    volume: () => import("./cli/commands/volume.ts").then((m) => m.default),
    "s3-gateway": () => import("./cli/commands/s3-gateway.ts").then((m) => m.default),
    s3: () => import("./cli/commands/s3.ts").then((m) => m.default),
    image: () => import("./cli/commands/image.ts").then((m) => m.default),
    vm: () => import("./cli/commands/vm.ts").then((m) => m.default),
    lab: () => import("./cli/commands/lab.ts").then((m) => m.default),
  },
});

const rawArgs = process.argv.slice(2);
try {
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    console.log(version);
  } else if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
    await showUsage(...(await resolveForUsage(rawArgs)));
  } else {
    await runCommand(main, { rawArgs });
  }
} catch (err) {
  // The one place where errors become an exit status.
  // citty reports usage mistakes (unknown command, missing argument) as errors named CLIError.
  if (err instanceof Error && err.name === "CLIError") {
    await showUsage(...(await resolveForUsage(rawArgs)));
    console.error(`error: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof CliError || err instanceof ApiError) {
    console.error(`error: ${err.message}`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  }
  if (err instanceof Error && "code" in err && err.code === "ConnectionRefused") {
    console.error(`error: cannot connect: ${err.message}`);
    process.exit(1);
  }
  console.error(err);
  process.exit(1);
}

async function resolveForUsage(args: string[]) {
  const { resolveSubCommand } = await import("./cli/resolve.ts");
  return resolveSubCommand(main, args);
}
