import { statSync } from "node:fs";
import type { TrustedCa } from "../../http/client-tls.ts";
import { basename } from "node:path";
import { VolumeClient } from "../../coronafs/client.ts";
import { ImageClient, VmClient } from "../../plasmavmc/client.ts";

/** The controller a VM measurement talks to. */
export interface VmBenchTarget {
  controllerUrl: string;
  token: string;
  ca?: TrustedCa;
}

const MiB = 1024 * 1024;
const seconds = (from: number) => (performance.now() - from) / 1000;

/** CreateImage of a local file through the controller, then two image-backed CreateVolumes (the seed's "VM Image Path"). */
export async function measureImagePath(target: VmBenchTarget, file: string, name: string) {
  const images = new ImageClient(target.controllerUrl, target.token, target.ca);
  const volumes = new VolumeClient(target.controllerUrl, target.token, target.ca);
  const size = statSync(file).size;
  let started = performance.now();
  const image = await images.upload(name, Bun.file(file).stream(), size, basename(file));
  const createImageSeconds = seconds(started);
  started = performance.now();
  const first = (await volumes.create({ name: `${name}-clone1`, image: name })) as { ms?: number };
  const firstCloneSeconds = seconds(started);
  started = performance.now();
  const second = (await volumes.create({ name: `${name}-clone2`, image: name })) as { ms?: number };
  const secondCloneSeconds = seconds(started);
  return {
    artifactMiB: image.artifactSize / MiB,
    virtualMiB: image.virtualSize / MiB,
    createImageSeconds,
    createImageMiBps: image.artifactSize / MiB / createImageSeconds,
    firstCloneSeconds,
    secondCloneSeconds,
    /** The controller's own time for each clone, without the client's round trip. */
    firstCloneServerMs: first.ms ?? NaN,
    secondCloneServerMs: second.ms ?? NaN,
    /** Deletes the clones and the image; every failure is reported, none stops the others. */
    async cleanup() {
      await settleAll([() => volumes.delete(`${name}-clone1`), () => volumes.delete(`${name}-clone2`), () => images.delete(name)], `cleaning up image ${name}`);
    },
  };
}

/** The guest's `BENCH key=value` figures on its console. */
export function parseGuestBench(console: string): { seqWriteMiBps: number; seqReadMiBps: number; randReadIops: number } | undefined {
  const value = (key: string) => Number(new RegExp(`BENCH ${key}=([0-9.]+)`).exec(console)?.[1] ?? NaN);
  if (!console.includes("BENCH done")) return undefined;
  return { seqWriteMiBps: value("seq_write_mibps"), seqReadMiBps: value("seq_read_mibps"), randReadIops: value("rand4k_read_iops") };
}

/** What a VM run needs: an image of the test guest, its kernel and initrd (paths on the worker), and the node. */
export interface GuestRun {
  image: string;
  kernel: string;
  initrd: string;
  node: string;
  /** MiB the guest's benchmark moves each way. */
  benchMib: number;
  timeoutMs: number;
}

/**
 * StartVm → QEMU attach → guest boot → guest benchmark on `node` (the seed's
 * "VM Runtime Path"): a VM with the image-backed boot disk and a blank data
 * disk, started there; attach is the controller's StartVm → QMP-shows-disks
 * time, the result the time until the guest printed `BENCH done`.
 */
export async function measureVmRun(target: VmBenchTarget, name: string, run: GuestRun) {
  const vms = new VmClient(target.controllerUrl, target.token, target.ca);
  const append = `console=ttyS0 no_timer_check root=/dev/vda2 photon.data=/dev/vdb photon.bench=/dev/vdb photon.bench_mib=${run.benchMib} photon.poweroff=1`;
  await vms.create({ name, image: run.image, memory: "256M", dataDisks: [`${Math.max(64, run.benchMib * 2)}M`], kernel: run.kernel, initrd: run.initrd, append, start: false });
  let result;
  try {
    const started = performance.now();
    const vm = await vms.move(name, run.node);
    const attachSeconds = (vm.attachMs ?? NaN) / 1000;
    const deadline = Date.now() + run.timeoutMs;
    let text = "";
    let bench: ReturnType<typeof parseGuestBench>;
    let firstOutputMs: number | undefined;
    while (!(bench = parseGuestBench(text))) {
      if (Date.now() > deadline) throw new Error(`the guest printed no benchmark result within ${run.timeoutMs} ms; console:\n${text.slice(-2000)}`);
      await Bun.sleep(200);
      firstOutputMs ??= (await vms.get(name)).firstOutputMs;
      text = await new Response(await vms.console(name, false)).text();
    }
    const guestResultSeconds = seconds(started);
    result = { node: run.node, attachSeconds, guestResultSeconds, firstOutputSeconds: (firstOutputMs ?? NaN) / 1000, ...bench };
  } catch (err) {
    // A failed delete is reported beside the run's own error, which stays the one thrown.
    await settleAll([() => vms.delete(name)], `deleting VM ${name}`, true);
    throw err;
  }
  await settleAll([() => vms.delete(name)], `deleting VM ${name}`);
  return result;
}

/**
 * Runs every step even when one fails; throws one error naming all failures,
 * or (`whileUnwinding`, inside a `finally`) writes them to stderr so the
 * error already on its way is not replaced.
 */
async function settleAll(steps: (() => Promise<unknown>)[], what: string, whileUnwinding = false): Promise<void> {
  const failures: string[] = [];
  for (const step of steps) await step().catch((err: Error) => failures.push(err.message));
  if (failures.length === 0) return;
  const message = `${what} failed: ${failures.join("; ")}`;
  if (whileUnwinding) process.stderr.write(`${message}\n`);
  else throw new Error(message);
}
