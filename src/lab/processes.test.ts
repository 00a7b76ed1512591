import { describe, expect, test } from "bun:test";
import { findLabChildren, isAlive, isLabChild, listensOn } from "./processes.ts";

describe("lab processes", () => {
  test("a service is recognised by its --data-dir under the lab dir; a tail of its log is not", async () => {
    const dir = `/tmp/wt-lab-proc-${process.pid}`;
    const service = Bun.spawn(["sh", "-c", "sleep 30", "sh", "--data-dir", `${dir}/node01`]);
    const tail = Bun.spawn(["sh", "-c", "sleep 30", "sh", `${dir}/node01/agent.log`]);
    const other = Bun.spawn(["sh", "-c", "sleep 30", "sh", "--data-dir", `${dir}2/node01`]);
    try {
      expect(isLabChild(service.pid, dir)).toBe(true);
      expect(isLabChild(tail.pid, dir)).toBe(false);
      expect(isLabChild(other.pid, dir)).toBe(false);
      expect(findLabChildren(dir)).toEqual([service.pid]);
    } finally {
      for (const p of [service, tail, other]) p.kill("SIGKILL");
      await Promise.all([service.exited, tail.exited, other.exited]);
    }
    expect(isAlive(service.pid)).toBe(false);
  });

  test("a VM's QEMU is recognised by its pidfile in a node's vms/ dir (VMs outlive their agent)", async () => {
    const dir = `/tmp/wt-lab-vm-${process.pid}`;
    const sleeper = (pidfile: string) => Bun.spawn(["perl", "-e", "sleep 30", "--", "-pidfile", pidfile], { argv0: "qemu-system-x86_64" });
    const vm = sleeper(`${dir}/node02/vms/vm1/qemu.pid`);
    const elsewhere = sleeper(`/tmp/other-${process.pid}/node02/vms/vm1/qemu.pid`);
    try {
      await Bun.sleep(50);
      expect(isLabChild(vm.pid, dir)).toBe(true);
      expect(isLabChild(elsewhere.pid, dir)).toBe(false);
      expect(findLabChildren(dir)).toEqual([vm.pid]);
    } finally {
      for (const p of [vm, elsewhere]) p.kill("SIGKILL");
      await Promise.all([vm.exited, elsewhere.exited]);
    }
  });

  test("the lab's PostgreSQL is recognised by its data dir in node01's postgres/ (found if the lab died)", async () => {
    const dir = `/tmp/wt-lab-pg-${process.pid}`;
    const server = (data: string) => Bun.spawn(["perl", "-e", "sleep 30", "--", "-D", data], { argv0: "/usr/lib/postgresql/15/bin/postgres" });
    const ours = server(`${dir}/node01/postgres/data`);
    const elsewhere = server(`/tmp/other-${process.pid}/node01/postgres/data`);
    try {
      await Bun.sleep(50);
      expect(isLabChild(ours.pid, dir)).toBe(true);
      expect(isLabChild(elsewhere.pid, dir)).toBe(false);
      expect(findLabChildren(dir)).toEqual([ours.pid]);
    } finally {
      for (const p of [ours, elsewhere]) p.kill("SIGKILL");
      await Promise.all([ours.exited, elsewhere.exited]);
    }
  });

  test("listensOn: only the process holding the listening socket", () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(listensOn(process.pid, "127.0.0.1", server.port)).toBe(true);
      expect(listensOn(process.pid, "127.0.0.2", server.port)).toBe(false);
      expect(listensOn(1, "127.0.0.1", server.port)).toBe(false);
    } finally {
      server.stop(true);
    }
    expect(listensOn(process.pid, "127.0.0.1", server.port)).toBe(false);
  });
});
