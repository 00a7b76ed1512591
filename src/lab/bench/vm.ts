import type { BenchContext, SectionPlan } from "./context.ts";
import type { NotMeasured, VmImagePath, VmRuntimePath } from "./result.ts";

/** The two VM sections of the report. */
export interface VmSections {
  vmImage: VmImagePath | NotMeasured;
  vmRuntime: VmRuntimePath | NotMeasured;
}

/** Why the VM sections are empty when the controller has no images API. */
export const PLASMAVMC_MISSING = "PlasmaVMC not available (the controller has no /v1/images route)";

/** Whether the controller serves PlasmaVMC's images API: any answer but 404 on `GET /v1/images`. */
export async function plasmaVmcAvailable(ctx: BenchContext): Promise<boolean> {
  const response = await fetch(`${ctx.state.controllerUrl}/v1/images`, { headers: { authorization: `Bearer ${ctx.token}` }, signal: AbortSignal.timeout(5_000) });
  await response.body?.cancel();
  return response.status !== 404;
}

/**
 * The VM image path and VM runtime path: measured once PlasmaVMC exists.
 *
 * TODO(PlasmaVMC): when `available`, return steps that
 *  - image path, on node01: create a guest image from a local qcow2 file through
 *    the controller (`CreateImage`; record artifact size and virtual size and the
 *    latency), then two image-backed `CreateVolume`s (first converts the base,
 *    second must be a qcow2 clone: the target is ≤ 20 ms), filling
 *    {@link VmImagePath};
 *  - runtime path, on `ctx.roles.worker`: `StartVm` with a CoronaFS root disk and
 *    a data disk; time to QEMU attach (target ≤ 0.2 s) and to the guest's fio
 *    result read from the serial console, filling {@link VmRuntimePath};
 *  - a cleanup that deletes the VM, the volumes and the image.
 * figures.ts, the report, the charts and the assessment already read both shapes.
 */
export function planVm(_ctx: BenchContext, available: boolean): SectionPlan<VmSections> {
  const reason = available ? "PlasmaVMC answers but bench-storage does not measure it yet (src/lab/bench/vm.ts)" : PLASMAVMC_MISSING;
  const notMeasured: NotMeasured = { status: "not measured", reason };
  return { steps: [], result: () => ({ vmImage: notMeasured, vmRuntime: notMeasured }) };
}
