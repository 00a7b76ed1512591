import { existsSync } from "node:fs";
import { fetchTls } from "../../http/client-tls.ts";
import { join, resolve } from "node:path";
import type { BenchContext, SectionPlan } from "./context.ts";
import type { NotMeasured, VmImagePath, VmRuntimePath } from "./result.ts";
import { measureImagePath, measureVmRun, type VmBenchTarget } from "./vm-measure.ts";

/** The two VM sections of the report. */
export interface VmSections {
  vmImage: VmImagePath | NotMeasured;
  vmRuntime: VmRuntimePath | NotMeasured;
}

/** Why the VM sections are empty when the controller has no images API. */
export const PLASMAVMC_MISSING = "PlasmaVMC not available (the controller has no /v1/images route)";

/** Whether the controller serves PlasmaVMC's images API: any answer but 404 on `GET /v1/images`. */
export async function plasmaVmcAvailable(ctx: BenchContext): Promise<boolean> {
  const response = await fetch(`${ctx.state.controllerUrl}/v1/images`, { headers: { authorization: `Bearer ${ctx.token}` }, signal: AbortSignal.timeout(5_000), ...fetchTls(ctx.ca) });
  await response.body?.cancel();
  return response.status !== 404;
}

/** Where `scripts/build-guest` leaves the test guest: `--guest-dir`, else `.cache/guest` of the current directory. */
export function guestDir(given?: string): string {
  return resolve(given ?? join(".cache", "guest"));
}

/**
 * The VM image path (on node01: CreateImage of the test guest through the
 * controller, then two image-backed CreateVolumes — the second must be a
 * qcow2 clone) and the VM runtime path (on the worker: a first VM that pulls
 * the image's base onto the node, then a second one that finds it cached;
 * StartVm → QEMU attach and → the guest's benchmark on its console).
 */
export function planVm(ctx: BenchContext, available: boolean, guest = guestDir()): SectionPlan<VmSections> {
  const files = { kernel: join(guest, "vmlinuz"), initrd: join(guest, "initrd.img"), disk: join(guest, "disk.raw") };
  const missing = !available ? PLASMAVMC_MISSING : !existsSync(files.disk) ? `the test guest is not built in ${guest} (run scripts/build-guest)` : undefined;
  if (missing) {
    const notMeasured: NotMeasured = { status: "not measured", reason: missing };
    return { steps: [], result: () => ({ vmImage: notMeasured, vmRuntime: notMeasured }) };
  }
  const target: VmBenchTarget = { controllerUrl: ctx.state.controllerUrl, token: ctx.token, ca: ctx.ca };
  const name = `bench-${Date.now().toString(36)}`;
  const node = ctx.roles.worker.name;
  const run = { image: name, kernel: files.kernel, initrd: files.initrd, node, benchMib: ctx.quick ? 8 : 64, timeoutMs: ctx.quick ? 120_000 : 300_000 };
  let image: Awaited<ReturnType<typeof measureImagePath>> | undefined;
  let cold: Awaited<ReturnType<typeof measureVmRun>> | undefined;
  let warm: Awaited<ReturnType<typeof measureVmRun>> | undefined;
  return {
    steps: [
      { label: "CreateImage of the test guest and two image-backed CreateVolumes on node01", run: async () => void (image = await measureImagePath(target, files.disk, name)) },
      { label: `StartVm on ${node} with the image's base not yet there, to the guest's benchmark`, run: async () => void (cold = await measureVmRun(target, `${name}-vm1`, run)) },
      { label: `StartVm on ${node} with the base cached, to the guest's benchmark`, run: async () => void (warm = await measureVmRun(target, `${name}-vm2`, run)) },
    ],
    async cleanup() {
      await image?.cleanup();
    },
    result: () => ({
      vmImage: image
        ? { status: "measured", artifactMiB: image.artifactMiB, virtualMiB: image.virtualMiB, createImageSeconds: image.createImageSeconds, firstCloneSeconds: image.firstCloneSeconds, secondCloneSeconds: image.secondCloneSeconds }
        : { status: "not measured", reason: "CreateImage failed" },
      vmRuntime: warm
        ? {
            status: "measured",
            node,
            attachSeconds: warm.attachSeconds,
            coldAttachSeconds: cold?.attachSeconds,
            guestResultSeconds: warm.guestResultSeconds,
            guestSeqWriteMiBps: warm.seqWriteMiBps,
            guestSeqReadMiBps: warm.seqReadMiBps,
            guestRandReadIops: warm.randReadIops,
          }
        : { status: "not measured", reason: "StartVm failed" },
    }),
  };
}
