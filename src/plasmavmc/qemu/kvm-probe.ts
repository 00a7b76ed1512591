import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Accel } from "./command-line.ts";

/** The isa-debug-exit port the probe firmware writes to, and the value it writes. */
const DEBUG_EXIT_PORT = 0xf4;
const PROBE_VALUE = 0x10;
/** QEMU exits with `(value << 1) | 1` when the guest writes `value` to isa-debug-exit. */
export const PROBE_EXIT_CODE = (PROBE_VALUE << 1) | 1;

/** Where the probe firmware's pieces sit in its image, which QEMU maps at 0xF0000 (segment F000). */
const IMAGE_BASE = 0xf0000;
const GDTR_AT = 0x70;
const GDT_AT = 0x80;
const START_AT = 0x100;
const LONG_MODE_AT = 0x200;

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v: number) => [...le16(v & 0xffff), ...le16(v >>> 16)];

/**
 * A 64 KiB firmware image (QEMU wants a multiple of 64 KiB for `-bios`) that
 * does what a kernel's early boot does — identity-mapped page tables, PAE,
 * EFER.LME, paging on, a far jump into a 64-bit code segment — and then
 * writes {@link PROBE_VALUE} to the isa-debug-exit port. Nested KVM here runs
 * real-mode code (SeaBIOS boots) but hangs where Linux enters long mode, so a
 * probe that stopped earlier would vouch for a KVM that cannot boot a guest.
 */
export function probeFirmware(): Uint8Array {
  const image = new Uint8Array(64 * 1024);
  // Reset vector (0xFFFFFFF0, the image's last 16 bytes): jmp far F000:START_AT.
  image.set([0xea, ...le16(START_AT), 0x00, 0xf0], image.length - 16);
  // GDT: null, 0x08 = 64-bit code (L=1), 0x10 = data; GDTR points at it.
  image.set([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9a, 0xaf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0], GDT_AT);
  image.set([...le16(23), ...le32(IMAGE_BASE + GDT_AT)], GDTR_AT);
  // 16-bit real mode.
  image.set(
    [
      0xfa, // cli
      0x31, 0xc0, 0x8e, 0xd8, // xor ax, ax; mov ds, ax
      0x66, 0xc7, 0x06, ...le16(0x1000), ...le32(0x2003), // PML4[0] → PDPT at 0x2000
      0x66, 0xc7, 0x06, ...le16(0x2000), ...le32(0x3003), // PDPT[0] → PD at 0x3000
      0x66, 0xc7, 0x06, ...le16(0x3000), ...le32(0x83), // PD[0]: 2 MiB page at 0, present + writable
      0x2e, 0x0f, 0x01, 0x16, ...le16(GDTR_AT), // lgdt cs:[GDTR_AT]
      0x66, 0xb8, ...le32(0x20), 0x0f, 0x22, 0xe0, // mov eax, CR4.PAE; mov cr4, eax
      0x66, 0xb8, ...le32(0x1000), 0x0f, 0x22, 0xd8, // mov eax, 0x1000; mov cr3, eax
      0x66, 0xb9, ...le32(0xc0000080), 0x0f, 0x32, // mov ecx, EFER; rdmsr
      0x66, 0x0d, ...le32(0x100), 0x0f, 0x30, // or eax, EFER.LME; wrmsr
      0x66, 0xb8, ...le32(0x80000001), 0x0f, 0x22, 0xc0, // mov eax, PG | PE; mov cr0, eax
      0x66, 0xea, ...le32(IMAGE_BASE + LONG_MODE_AT), ...le16(0x08), // jmp far 0x08:LONG_MODE_AT
    ],
    START_AT,
  );
  // 64-bit long mode.
  image.set(
    [
      0x66, 0xba, ...le16(DEBUG_EXIT_PORT), // mov dx, 0xf4
      0xb0, PROBE_VALUE, // mov al, PROBE_VALUE
      0xee, // out dx, al
      0xf4, 0xeb, 0xfd, // hlt; jmp back to hlt
    ],
    LONG_MODE_AT,
  );
  return image;
}

/** What a probe found. */
export interface ProbeResult {
  accel: Accel;
  /** Why KVM is not used, when it is not. */
  reason?: string;
  ms: number;
}

/** Options for {@link probeAccel}. */
export interface ProbeOptions {
  qemuBinary: string;
  /** The accelerator to try: the probe answers `tcg` unless it ran on it. */
  accel?: Accel;
  /** A probe that has not exited by then counts as hung (nested KVM guests hang). */
  timeoutMs?: number;
  /** Defaults to `/dev/kvm`. */
  kvmDevice?: string;
}

/**
 * Decides whether KVM is usable by running the probe firmware on it: only an
 * exit with {@link PROBE_EXIT_CODE} within the timeout counts, because on
 * some hosts `/dev/kvm` exists and opens while a guest on it never runs.
 */
export async function probeAccel(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const accel = options.accel ?? "kvm";
  const ms = () => Math.round(performance.now() - started);
  if (accel === "kvm") {
    try {
      accessSync(options.kvmDevice ?? "/dev/kvm", constants.R_OK | constants.W_OK);
    } catch (err) {
      return { accel: "tcg", reason: `no usable /dev/kvm: ${(err as Error).message}`, ms: ms() };
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "photon-kvm-probe-"));
  try {
    const firmware = join(dir, "probe.bin");
    writeFileSync(firmware, probeFirmware());
    const timeoutMs = options.timeoutMs ?? 3000;
    // coreutils timeout kills a hung probe even if the agent dies first; told to
    // stop (SIGTERM), it passes the signal on and follows with SIGKILL a second later.
    const proc = Bun.spawn(
      ["timeout", "-k", "1", "-s", "KILL", String(Math.ceil(timeoutMs / 1000) + 2), options.qemuBinary, "-accel", accel, "-machine", "pc", "-m", "16", "-nodefaults", "-no-user-config", "-display", "none",
        "-bios", firmware, "-device", `isa-debug-exit,iobase=${DEBUG_EXIT_PORT},iosize=1`],
      { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const outcome = await Promise.race([proc.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      proc.kill("SIGTERM"); // a guest stuck in KVM_RUN may take a while to die; nothing waits for it
      return { accel: "tcg", reason: `a probe guest on ${accel} did not finish within ${timeoutMs} ms`, ms: ms() };
    }
    if (outcome !== PROBE_EXIT_CODE) {
      const stderr = (await new Response(proc.stderr).text()).trim().slice(-500);
      return { accel: "tcg", reason: `the probe guest on ${accel} exited with ${outcome}${stderr ? `: ${stderr}` : ""}`, ms: ms() };
    }
    return { accel, ms: ms() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
