import { createConnection } from "node:net";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { waitFor } from "./photon.ts";

/** Where `scripts/build-guest` leaves the test guest (docs/guest.md). */
export const guestDir = resolve(import.meta.dir, "../../.cache/guest");
export const guestFiles = {
  kernel: join(guestDir, "vmlinuz"),
  initrd: join(guestDir, "initrd.img"),
  disk: join(guestDir, "disk.raw"),
};

/** Builds the guest (a no-op when its cache is current); fails with the script's output. */
export async function buildGuest(): Promise<void> {
  const proc = Bun.spawn([resolve(import.meta.dir, "../../scripts/build-guest")], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`scripts/build-guest exited ${code}:\n${stdout}\n${stderr}`);
}

/** How to boot the guest: from its disk through syslinux, or its kernel directly with `append`. */
export interface GuestBoot {
  /** Kernel command line for a direct kernel boot; absent = boot disk.raw through syslinux. */
  append?: string;
  /** A raw image attached as the second virtio disk (/dev/vdb). */
  dataDisk?: string;
  /** A QMP unix socket path, for system_powerdown. */
  qmpSocket?: string;
}

/** A QEMU (TCG) running the test guest, its serial console collected line by line. */
export class GuestVm {
  readonly lines: string[] = [];
  readonly exited: Promise<number>;
  private partial = "";

  constructor(readonly proc: Subprocess<"ignore", "pipe", "pipe">) {
    this.exited = proc.exited;
    void this.pump(proc.stdout);
    void this.pump(proc.stderr);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.partial += decoder.decode(chunk, { stream: true });
      const parts = this.partial.split(/\r?\n/);
      this.partial = parts.pop() ?? "";
      this.lines.push(...parts.map((line) => line.replace(/\r/g, "")));
    }
  }

  /** The console so far, for failure messages. */
  console(): string {
    return [...this.lines, this.partial].join("\n").slice(-3000);
  }

  /** Waits for a console line matching `pattern`. */
  async waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    try {
      return await waitFor(() => this.lines.find((line) => pattern.test(line)), `console line ${pattern}`, timeoutMs);
    } catch (err) {
      throw new Error(`${String(err)}; console:\n${this.console()}`);
    }
  }

  /** Waits for QEMU to exit by itself; returns its exit code. */
  async waitForExit(timeoutMs = 30_000): Promise<number> {
    try {
      await waitFor(() => this.proc.exitCode !== null || this.proc.signalCode !== null, "QEMU to exit", timeoutMs);
    } catch (err) {
      throw new Error(`${String(err)}; console:\n${this.console()}`);
    }
    return this.exited;
  }

  kill(): Promise<number> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    return this.exited;
  }
}

/** Starts QEMU under TCG (no KVM here) with disk.raw as /dev/vda, copy-on-write so the cache stays pristine. */
export function bootGuest(boot: GuestBoot): GuestVm {
  const args = ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-display", "none", "-nodefaults", "-no-reboot"];
  args.push("-serial", "stdio", "-monitor", "none");
  args.push("-drive", `file=${guestFiles.disk},format=raw,if=virtio,snapshot=on`);
  if (boot.dataDisk) args.push("-drive", `file=${boot.dataDisk},format=raw,if=virtio`);
  if (boot.append !== undefined) args.push("-kernel", guestFiles.kernel, "-initrd", guestFiles.initrd, "-append", boot.append);
  if (boot.qmpSocket) args.push("-qmp", `unix:${boot.qmpSocket},server=on,wait=off`);
  return new GuestVm(Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
}

/** Sends one QMP command (after the capabilities handshake) and resolves with its reply line. */
export function qmpCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection(socketPath);
    const sent = ['{"execute":"qmp_capabilities"}', JSON.stringify({ execute: command })];
    let buffered = "";
    let replies = 0;
    socket.on("error", reject);
    socket.on("data", (data) => {
      buffered += data.toString();
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const message = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: unknown };
        if (message.QMP || message.return !== undefined || message.error) {
          if (message.error) return reject(new Error(`QMP ${command}: ${line}`));
          const next = sent[replies++];
          if (next) socket.write(`${next}\n`);
          else {
            socket.end();
            resolvePromise(line);
          }
        }
      }
    });
  });
}
