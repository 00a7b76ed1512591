import { Hono } from "hono";
import { ProblemError, problems } from "../../http/problem.ts";
import { jsonBody } from "../../http/validate.ts";
import { consoleStream } from "./console-stream.ts";
import { VmError } from "./errors.ts";
import type { HostedVm } from "./hosted-vm.ts";
import type { VmHost } from "./vm-host.ts";
import { createVmSchema, stopVmSchema } from "./vm-request.ts";

/** The JSON shape of a VM on the agent's API (docs/plasmavmc-agent.md). */
export function vmJson(vm: HostedVm) {
  const { request, ...record } = vm.record;
  return {
    name: vm.name,
    state: vm.state,
    pid: vm.live ? (vm.pid ?? null) : null,
    accel: record.accel,
    cpus: request.cpus,
    memoryMiB: request.memoryMiB,
    machine: request.machine,
    network: request.network,
    disks: request.disks.map((d) => ({ volume: d.volume, readOnly: d.readOnly ?? false })),
    kernel: request.kernel ?? null,
    initrd: request.initrd ?? null,
    append: request.append ?? null,
    createdAt: record.createdAt,
    startedAt: record.startedAt ?? null,
    attachedAt: record.attachedAt ?? null,
    attachMs: record.attachMs ?? null,
    firstOutputAt: record.firstOutputAt ?? null,
    qmpStatus: vm.live ? (vm.qmpStatus ?? null) : null,
    ioErrors: vm.ioErrors,
    exit: record.exit ?? null,
    consoleBytes: vm.dir.consoleSize(),
    ...(vm.state === "crashed" ? { consoleTail: vm.dir.consoleTail() } : {}),
    runtimeDir: vm.dir.path,
  };
}

/** A VM as the agent's API returns it. */
export type VmInfo = ReturnType<typeof vmJson>;

/** Turns the VM host's errors into problems (the one place it happens). */
function toProblem(err: unknown): unknown {
  if (!(err instanceof VmError)) return err;
  switch (err.kind) {
    case "invalid":
      return err.field ? problems.invalidField(err.field, err.message) : problems.badRequest(err.message);
    case "not-found":
      return problems.notFound(err.message);
    case "conflict":
      return problems.conflict(err.message);
    case "launch-failed":
      return new ProblemError({ type: "vm-launch-failed", status: 500, title: "QEMU did not start", detail: err.message });
  }
}

/** Runs a handler, translating VM errors. */
async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toProblem(err);
  }
}

/** `/v1/vms`: create (and start), list, show, start, stop, reboot, delete, console. */
export function vmRoutes(host: VmHost, agentSignal: AbortSignal): Hono {
  const app = new Hono();

  app.get("/", (c) => c.json({ vms: host.list().map(vmJson) }));

  app.post("/", async (c) => {
    const receivedAt = performance.timeOrigin + performance.now();
    const body = await jsonBody(c, createVmSchema);
    const vm = await translated(() => host.create(body, receivedAt));
    return c.json(vmJson(vm), 201);
  });

  app.get("/:name", async (c) => {
    const vm = await translated(async () => host.get(c.req.param("name")));
    if (vm.live) {
      await vm.refreshStatus().catch((err: unknown) => {
        throw new ProblemError({ type: "qmp-unavailable", status: 503, title: "QEMU's monitor did not answer", detail: (err as Error).message });
      });
    }
    return c.json(vmJson(vm));
  });

  app.post("/:name/start", async (c) => {
    const receivedAt = performance.timeOrigin + performance.now();
    return c.json(vmJson(await translated(() => host.start(c.req.param("name"), receivedAt))));
  });

  app.post("/:name/stop", async (c) => {
    // The body is optional here: no body means the defaults.
    const body = (c.req.header("content-length") ?? "0") === "0" && !c.req.header("transfer-encoding") ? stopVmSchema.parse({}) : await jsonBody(c, stopVmSchema);
    return c.json(vmJson(await translated(() => host.stop(c.req.param("name"), body))));
  });

  app.post("/:name/reboot", async (c) => {
    const vm = await translated(async () => {
      const vm = host.get(c.req.param("name"));
      await vm.reboot();
      return vm;
    });
    return c.json(vmJson(vm));
  });

  app.delete("/:name", async (c) => {
    await translated(() => host.delete(c.req.param("name")));
    return c.body(null, 204);
  });

  app.get("/:name/console", async (c) => {
    const vm = await translated(async () => host.get(c.req.param("name")));
    const follow = c.req.query("follow");
    if (follow !== undefined && follow !== "true" && follow !== "false") throw problems.invalidField("follow", "expected true or false");
    const offsetText = c.req.query("offset") ?? "0";
    const offset = Number(offsetText);
    if (!/^\d+$/.test(offsetText) || !Number.isSafeInteger(offset)) throw problems.invalidField("offset", "expected a byte offset");
    const headers = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };
    if (vm.dir.consoleSize() === 0 && !vm.live) return c.body("", 200, headers);
    const signal = AbortSignal.any([c.req.raw.signal, agentSignal]);
    const stream = consoleStream({ path: vm.dir.consoleLog, offset, follow: follow === "true", finished: () => !vm.live, signal });
    return c.body(stream, 200, headers);
  });

  return app;
}
