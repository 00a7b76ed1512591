import { z } from "zod";

/** VM names: a directory name under `vms/` and a QEMU `-name`. */
export const vmNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Most vCPUs one VM may ask for; the controller's scheduler decides what fits. */
export const MAX_CPUS = 64;
/** The smallest memory a VM may have. */
export const MIN_MEMORY_MIB = 32;

const hostPath = z.string().startsWith("/", "expected an absolute path on the agent's host");

/** `POST /v1/vms`: what to run. Checks against the host (memory, volumes, files) come after. */
export const createVmSchema = z
  .strictObject({
    name: z.string().regex(vmNamePattern, "1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"),
    cpus: z.number().int().min(1).max(MAX_CPUS),
    memoryMiB: z.number().int().min(MIN_MEMORY_MIB),
    /** Node-local volumes, in order: the first is the boot disk (vda), then vdb… */
    disks: z.array(z.strictObject({ volume: z.string().min(1), readOnly: z.boolean().optional() })).max(16),
    kernel: hostPath.optional(),
    initrd: hostPath.optional(),
    append: z.string().max(4096).optional(),
    network: z.enum(["none", "user"]).default("none"),
    accel: z.enum(["auto", "kvm", "tcg"]).optional(),
    machine: z.enum(["q35", "pc"]).default("q35"),
  })
  .superRefine((vm, ctx) => {
    if (vm.kernel === undefined && (vm.initrd !== undefined || vm.append !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["kernel"], message: "initrd and append need a kernel" });
    }
    if (vm.kernel === undefined && vm.disks.length === 0) ctx.addIssue({ code: "custom", path: ["disks"], message: "nothing to boot: give a disk or a kernel" });
    const seen = new Set<string>();
    vm.disks.forEach((disk, i) => {
      if (seen.has(disk.volume)) ctx.addIssue({ code: "custom", path: ["disks", i, "volume"], message: `volume "${disk.volume}" is attached twice` });
      seen.add(disk.volume);
    });
  });

/** A validated VM request. */
export type VmRequest = z.infer<typeof createVmSchema>;

/** `POST /v1/vms/:name/stop`. */
export const stopVmSchema = z.strictObject({
  force: z.boolean().default(false),
  /** How long the guest gets to power off after `system_powerdown` before QEMU is told to quit. */
  timeoutMs: z.number().int().min(0).max(10 * 60_000).default(30_000),
});
