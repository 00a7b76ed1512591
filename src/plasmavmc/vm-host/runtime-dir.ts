import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureDir, writeFileAtomic } from "../../util/fs.ts";
import type { Accel } from "../qemu/command-line.ts";
import type { VmRequest } from "./vm-request.ts";

/** How a VM's last QEMU ended. */
export interface VmExit {
  at: string;
  state: "stopped" | "crashed";
  /** stop-request, guest-poweroff, or what was seen of a crash. */
  reason: string;
}

/** What the agent keeps about a VM in `spec.json`; it survives agent restarts. */
export interface VmRecord {
  request: VmRequest;
  accel: Accel;
  /** `stop` once stopped on purpose: a dead QEMU is then not a crash. */
  intent: "run" | "stop";
  createdAt: string;
  startedAt?: string;
  /** When QMP first showed every disk inserted, and how long after the start request. */
  attachedAt?: string;
  attachMs?: number;
  /** When the serial console first had bytes. */
  firstOutputAt?: string;
  exit?: VmExit;
}

/** Bytes of the console returned as a crashed VM's tail. */
const TAIL_BYTES = 4096;

/**
 * A VM's runtime directory `<dataDir>/vms/<name>/`: the QMP socket, the
 * serial console log, QEMU's pidfile and `spec.json`.
 */
export class VmRuntimeDir {
  readonly path: string;
  constructor(root: string, readonly name: string) {
    this.path = join(root, name);
  }

  get qmpSocket() {
    return join(this.path, "qmp.sock");
  }
  get consoleLog() {
    return join(this.path, "console.log");
  }
  get pidFile() {
    return join(this.path, "pid");
  }
  get specFile() {
    return join(this.path, "spec.json");
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  create(): void {
    ensureDir(this.path, 0o750);
  }

  /** The record, or undefined when there is none or it does not parse. */
  read(): VmRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.specFile, "utf8")) as VmRecord;
    } catch {
      return undefined;
    }
  }

  write(record: VmRecord): void {
    writeFileAtomic(this.specFile, JSON.stringify(record, null, 2) + "\n", 0o640);
  }

  /** Bytes in the console log so far (0 before QEMU created it). */
  consoleSize(): number {
    try {
      return statSync(this.consoleLog).size;
    } catch {
      return 0;
    }
  }

  /** The last few KiB of the console, as text. */
  consoleTail(bytes = TAIL_BYTES): string {
    let fd: number;
    try {
      fd = openSync(this.consoleLog, "r");
    } catch {
      return "";
    }
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(bytes, size);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      return buf.toString("utf8");
    } finally {
      closeSync(fd);
    }
  }

  /** Removes what a dead QEMU leaves behind (its socket and pidfile), keeping the record and console. */
  clearRuntime(): void {
    rmSync(this.qmpSocket, { force: true });
    rmSync(this.pidFile, { force: true });
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** The names of the VM directories under `root`. */
export function listRuntimeDirs(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}
