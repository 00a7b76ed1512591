import { readFileSync } from "node:fs";
import { cpus, hostname, release } from "node:os";
import type { LabState } from "../state.ts";
import { pickRoles, type BenchContext, type SectionPlan } from "./context.ts";
import { planCoronafs } from "./coronafs.ts";
import { planLightningstor } from "./lightningstor.ts";
import { planNetwork } from "./network.ts";
import { Progress } from "./progress.ts";
import type { BenchResult, NotMeasured } from "./result.ts";
import { planVm, plasmaVmcAvailable, type VmSections } from "./vm.ts";

/** What `photon lab bench-storage` was asked to do. */
export interface BenchOptions {
  state: LabState;
  token: string;
  s3Key: BenchContext["s3Key"];
  quick: boolean;
  /** The photon binary, run on the S3 client's node. */
  binary: string;
  /** The test guest's files (scripts/build-guest), for the VM sections. */
  guestDir: string;
  /** The command line, for the report. */
  command: string;
  /** Where progress goes (stderr by default). */
  out?: { write(text: string): unknown; isTTY?: boolean };
}

/** A run's result and the sections that failed (each also in the result as not measured, with the error). */
export interface BenchRun {
  result: BenchResult;
  failures: string[];
}

/**
 * Measures every section of the seed report against the running lab, one step
 * at a time. A failing step ends its section (recorded as not measured with the
 * error, and its cleanup still runs); the other sections go on.
 */
export async function runBenchStorage(options: BenchOptions): Promise<BenchRun> {
  const ca = options.state.ca === undefined ? undefined : readFileSync(options.state.ca, "utf8");
  const ctx: BenchContext = { state: options.state, token: options.token, ca, s3Key: options.s3Key, quick: options.quick, binary: options.binary, roles: pickRoles(options.state.nodes) };
  const started = performance.now();
  const generatedAt = new Date().toISOString();
  const vmAvailable = await plasmaVmcAvailable(ctx);
  const sections = {
    network: planNetwork(ctx),
    coronafs: planCoronafs(ctx),
    lightningstor: planLightningstor(ctx),
    vm: planVm(ctx, vmAvailable, options.guestDir),
  };
  const total = Object.values(sections).reduce((sum, s) => sum + s.steps.length, 0);
  const progress = new Progress(total, options.out);
  const failures: string[] = [];
  let n = 0;
  const run = async <T>(name: string, plan: SectionPlan<T>): Promise<T | NotMeasured> => {
    let failed: NotMeasured | undefined;
    for (const step of plan.steps) {
      n++;
      if (failed) continue;
      progress.start(n, step.label);
      try {
        await step.run();
        progress.end();
      } catch (err) {
        progress.end(err);
        failed = { status: "not measured", reason: `${step.label} failed: ${err instanceof Error ? err.message : String(err)}` };
        failures.push(`${name}: ${failed.reason}`);
      }
    }
    try {
      await plan.cleanup?.();
    } catch (err) {
      failures.push(`${name}: cleanup failed: ${String(err)}`);
      progress.note(`${name}: cleanup failed: ${String(err)}`);
    }
    return failed ?? plan.result();
  };
  const network = await run("network", sections.network);
  const coronafs = await run("coronafs", sections.coronafs);
  const lightningstor = await run("lightningstor", sections.lightningstor);
  const vmRun = await run("vm", sections.vm);
  const vm: VmSections = "vmImage" in vmRun ? vmRun : { vmImage: vmRun, vmRuntime: vmRun };
  if (vm.vmImage.status === "not measured") progress.note(`VM image and runtime paths: ${vm.vmImage.reason}`);
  const state = options.state;
  return {
    failures,
    result: {
      version: 1,
      generatedAt,
      command: options.command,
      quick: options.quick,
      durationSeconds: (performance.now() - started) / 1000,
      environment: {
        host: hostname(),
        cpus: cpus().length,
        kernel: release(),
        network: state.network,
        linkRate: state.linkRate,
        linkDelay: state.linkDelay,
        linkDelayUnavailable: state.linkDelayUnavailable,
        nodes: state.nodes.length,
      },
      network,
      coronafs,
      lightningstor,
      ...vm,
    },
  };
}
