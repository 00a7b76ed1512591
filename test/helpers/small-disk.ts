import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A tmpfs of `size` (e.g. "64m") mounted on `at` or a fresh temp dir (the tests run as root); disposing unmounts and removes it. */
export function smallDisk(size: string, at?: string): { path: string; [Symbol.dispose](): void } {
  const path = at ?? mkdtempSync(join(tmpdir(), "photon-small-disk-"));
  mkdirSync(path, { recursive: true });
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path], { encoding: "utf8" });
  if (mounted.status !== 0) {
    rmSync(path, { recursive: true, force: true });
    throw new Error(`mount -t tmpfs: ${mounted.stderr}`);
  }
  return {
    path,
    [Symbol.dispose]() {
      spawnSync("umount", ["-l", path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Writes a file until the disk has no byte left (as another program filling it would); returns its path. */
export function fillDisk(dir: string): string {
  const file = join(dir, "filler");
  try {
    writeFileSync(file, Buffer.alloc(1024 * 1024 * 1024), { flag: "a" });
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOSPC") throw err;
  }
  return file;
}
