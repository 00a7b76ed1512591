import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { readS3Key } from "../../lab/bench/lightningstor.ts";
import { writeBenchOutputs } from "../../lab/bench/output.ts";
import { runBenchStorage } from "../../lab/bench/run.ts";
import { guestDir } from "../../lab/bench/vm.ts";
import { runS3Load } from "../../lab/bench/s3-load.ts";
import { readLabState } from "../../lab/state.ts";
import { caOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";

/** `photon lab bench-storage`: the seed's storage report, measured on the running lab. */
const benchStorage = defineCommand({
  meta: { name: "bench-storage", description: "Measure the running lab (network, CoronaFS, LightningStor, VMs) and write the storage report with JSON and SVG charts" },
  args: {
    dir: { type: "string", description: "lab directory (default ./photon-lab)" },
    quick: { type: "boolean", description: "shorten every measurement (CI): small sizes, 1 s runs" },
    out: { type: "string", description: "markdown report; charts are written beside it (default <lab dir>/bench/storage.md)", valueHint: "FILE.md" },
    json: { type: "string", description: "the same data as JSON (default the report's path with .json)", valueHint: "FILE.json" },
    "guest-dir": { type: "string", description: "the test guest built by scripts/build-guest, for the VM sections (default ./.cache/guest)", valueHint: "DIR" },
  },
  async run({ args }) {
    const { sources } = commandContext(args, "lab");
    const dir = labDir(sources);
    const state = readLabState(dir);
    if (!state) throw new CliError(`no lab is running in ${dir}; start one with photon lab up --dir ${dir}`);
    const out = resolve(args.out ?? join(dir, "bench", "storage.md"));
    const json = resolve(args.json ?? join(dirname(out), `${basename(out, extname(out))}.json`));
    const { result, failures } = await runBenchStorage({
      state,
      token: readFileSync(state.tokenFile, "utf8").trim(),
      s3Key: readS3Key(state.s3KeyFile),
      quick: args.quick === true,
      binary: process.execPath,
      guestDir: guestDir(args["guest-dir"]),
      command: ["photon", ...process.argv.slice(2)].map(shellQuote).join(" "),
    });
    const written = writeBenchOutputs(result, { markdown: out, json });
    console.log(`report: ${written.markdown}\njson:   ${written.json}\ncharts: ${written.charts.join(", ")}`);
    if (failures.length > 0) throw new CliError(`some measurements failed:\n  ${failures.join("\n  ")}`);
  },
});

/** `photon lab s3-load` (hidden): the S3 client bench-storage runs on a lab node; prints its timings as JSON. */
const s3Load = defineCommand({
  meta: { name: "s3-load", description: "S3 PUT/GET loop run by bench-storage on a lab node", hidden: true },
  args: {
    endpoint: { type: "string", required: true },
    bucket: { type: "string", required: true },
    prefix: { type: "string", required: true },
    count: { type: "string", required: true },
    size: { type: "string", required: true, description: "bytes per object" },
    concurrency: { type: "string", default: "1" },
    ca: { type: "string", description: "PEM CA certificates the endpoint is verified against (a TLS lab's)", valueHint: "FILE" },
  },
  async run({ args }) {
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new CliError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
    const count = positiveInteger(args.count, "--count");
    const sizeBytes = positiveInteger(args.size, "--size");
    const concurrency = positiveInteger(args.concurrency, "--concurrency");
    const ca = caOption(commandContext(args, "lab").sources);
    const result = await runS3Load({ endpoint: args.endpoint, bucket: args.bucket, prefix: args.prefix, count, sizeBytes, concurrency, credentials: { accessKeyId, secretAccessKey }, ca });
    console.log(JSON.stringify(result));
  },
});

/** The `photon lab` subcommands of this file. */
export const benchCommands = { "bench-storage": benchStorage, "s3-load": s3Load };

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${flag}: expected a positive integer`);
  return n;
}

function labDir(sources: OptionSources): string {
  return resolve(option(sources, "dir") ?? "photon-lab");
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
