import { and, asc, eq, inArray } from "drizzle-orm";
import type { StoreDb } from "../../db/store-db.ts";
import type { TokenLike } from "../../util/token.ts";
import type { TrustedCa } from "../../http/client-tls.ts";
import { ApiError } from "../../http/admin-client.ts";
import type { Logger } from "../../util/log.ts";
import { parseSize } from "../../util/size.ts";
import { conflict, invalid, notFound, PlasmaError } from "../errors.ts";
import type { ImageService } from "../images/image-service.ts";
import { checkName } from "../names.ts";
import { pickNode, type CandidateNode } from "../scheduler.ts";
import type * as schema from "../schema.ts";
import type { VmRow, VmState } from "../schema.ts";
import { forward, type VolumeService } from "../volumes/volume-service.ts";
import { agentClients, type AgentClients, type HostedVm } from "./agent-clients.ts";
import { DiskMoves } from "./disk-moves.ts";

/** A node the controller knows, with where its agent listens. */
export type ComputeNode = CandidateNode & { advertise: string };

/** What CreateVm takes. */
export interface CreateVmRequest {
  name: string;
  image: string;
  cpus?: number;
  memory?: number | string;
  disk?: number | string;
  dataDisks?: (number | string)[];
  kernel?: string;
  initrd?: string;
  append?: string;
  network?: "none" | "user";
  start?: boolean;
}

/** A VM as the API shows it. */
export type VmInfo = Omit<VmRow, "createdAt" | "startedAt"> & { createdAt: string; startedAt: string | null; host?: HostedVm; firstOutputMs?: number };

export interface VmServiceOptions {
  store: StoreDb<typeof schema>;
  images: ImageService;
  volumes: VolumeService;
  nodes: () => Promise<ComputeNode[]>;
  token: TokenLike;
  /** The CA https:// agents are verified against. */
  ca?: TrustedCa;
  cpuRatio: number;
  log: Logger;
}

const MiB = 1024 * 1024;
/** States in which a VM holds its node's resources. */
const placedStates: VmState[] = ["starting", "running", "stopping", "shutoff", "crashed", "error"];

/**
 * PlasmaVMC's VMs: create (an image-backed boot disk and blank data disks in
 * the central store), start (schedule, move each disk onto the node — the
 * base by NBD materialization, cached per node by digest, then only the
 * volume's own qcow2 layer — and have the agent start QEMU on its node-local
 * export), stop (the disks' data goes back to the central store before the
 * node's copies are dropped), move, reboot, delete.
 */
export class VmService {
  /** VMs with an operation in flight: one at a time per VM. */
  private readonly busy = new Set<string>();

  /** Moves disks between the central store and nodes (disk-moves.ts). */
  private readonly disks: DiskMoves;

  constructor(private readonly options: VmServiceOptions) {
    this.disks = new DiskMoves(options.images, options.volumes, options.log);
  }

  private get db() {
    return this.options.store.db;
  }

  private get vms() {
    return this.options.store.tables.vms;
  }

  list(): Promise<VmRow[]> {
    return this.db.select().from(this.vms).orderBy(asc(this.vms.name));
  }

  private async find(name: string): Promise<VmRow | undefined> {
    const [row] = await this.db.select().from(this.vms).where(eq(this.vms.name, name));
    return row;
  }

  async row(name: string): Promise<VmRow> {
    const row = await this.find(name);
    if (!row) throw notFound(`VM "${name}"`);
    return row;
  }

  private async update(name: string, fields: Partial<VmRow>): Promise<void> {
    await this.options.store.write((db) => db.update(this.vms).set(fields).where(eq(this.vms.name, name)));
  }

  private async agent(nodeName: string): Promise<AgentClients> {
    const node = (await this.options.nodes()).find((n) => n.name === nodeName);
    if (!node) throw new PlasmaError("unavailable", `node ${nodeName} is not registered`);
    return agentClients(node.advertise, this.options.token, this.options.ca);
  }

  /** Runs one operation on a VM at a time. */
  private async exclusive<T>(name: string, operation: () => Promise<T>): Promise<T> {
    if (this.busy.has(name)) throw conflict(`VM "${name}" is busy with another operation`);
    this.busy.add(name);
    try {
      return await operation();
    } finally {
      this.busy.delete(name);
    }
  }

  async create(request: CreateVmRequest): Promise<VmInfo> {
    const name = checkName("name", request.name, 63);
    const cpus = request.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw invalid("cpus", "expected a whole number from 1 to 64");
    const memoryBytes = parseSize(request.memory ?? "512M");
    if (memoryBytes === undefined || memoryBytes < 32 * MiB || memoryBytes > 1024 ** 4) throw invalid("memory", `expected a size from 32M to 1T, got "${request.memory}"`);
    if (request.initrd !== undefined && request.kernel === undefined) throw invalid("initrd", "an initrd needs a kernel");
    if (request.append !== undefined && request.kernel === undefined) throw invalid("append", "a kernel command line needs a kernel");
    const dataSizes = (request.dataDisks ?? []).map((size, i) => {
      const bytes = parseSize(size);
      if (bytes === undefined || bytes <= 0) throw invalid(`dataDisks.${i}`, `expected a size like 1G, got "${size}"`);
      return bytes;
    });
    if (await this.find(name)) throw conflict(`VM "${name}" already exists`);
    await this.options.images.get(request.image);
    // A VM that no node can take is refused before anything is made for it.
    if (request.start !== false) await this.schedule(this.db, { cpus, memoryBytes });

    const disks: string[] = [];
    return this.exclusive(name, async () => {
      try {
        disks.push((await this.options.volumes.create({ name: `${name}-root`, image: request.image, size: request.disk })).name);
        for (const [i, size] of dataSizes.entries()) disks.push((await this.options.volumes.create({ name: `${name}-data${i + 1}`, size, format: "qcow2" })).name);
      } catch (err) {
        for (const disk of disks) await this.options.volumes.delete(disk).catch((cleanup: Error) => this.options.log.warn("could not remove a volume of a failed VM create", { volume: disk, err: cleanup }));
        throw err;
      }
      const row: VmRow = {
        name,
        id: crypto.randomUUID(),
        image: request.image,
        cpus,
        memoryBytes,
        disks,
        kernel: request.kernel ?? null,
        initrd: request.initrd ?? null,
        append: request.append ?? null,
        network: request.network ?? "none",
        state: "stopped",
        node: null,
        lastError: null,
        createdAt: new Date(),
        startedAt: null,
        attachMs: null,
      };
      await this.options.store.write((db) => db.insert(this.vms).values(row));
      for (const disk of disks) await this.options.volumes.attach(disk, name);
      this.options.log.info("vm created", { vm: name, image: request.image, disks });
      return row;
    }).then(async (row) => {
      if (request.start === false) return this.info(row);
      try {
        return await this.start(row.name);
      } catch (err) {
        // CreateVm that cannot start leaves nothing behind (a bad kernel path is only found by the agent).
        await this.delete(row.name).catch((cleanup: Error) => this.options.log.warn("could not remove a VM whose first start failed", { vm: row.name, err: cleanup }));
        throw err;
      }
    });
  }

  /** StartVm: schedule, put the disks on the node, have its agent start QEMU. */
  start(name: string, options: { only?: string } = {}): Promise<VmInfo> {
    return this.exclusive(name, () => this.startHeld(name, options));
  }

  /** StartVm with the VM's lock already held (start, move). */
  private async startHeld(name: string, options: { only?: string }): Promise<VmInfo> {
    let vm = await this.row(name);
    const lastNode = vm.node ?? undefined;
    if (vm.state === "running" || vm.state === "starting") throw conflict(`VM "${name}" is already ${vm.state}`);
    if (vm.state === "stopping") throw conflict(`VM "${name}" is stopping`);
    // A guest that powered off or a QEMU that died left its disks on the node: they come back first.
    if (vm.node !== null && vm.state !== "stopped") {
      await this.takeBack(vm, true);
      vm = await this.row(name);
    }
    const requestedAt = new Date();
    const started = performance.now();
    // Choosing the node and claiming it are one step, so two starts cannot both count on the same free room.
    const node = await this.options.store.transaction(async (tx) => {
      const chosen = await this.schedule(tx, vm, { prefer: lastNode, only: options.only });
      await tx.update(this.vms).set({ state: "starting", node: chosen, lastError: null, startedAt: requestedAt, attachMs: null }).where(eq(this.vms.name, name));
      return chosen;
    }, ["schedule"]);
    const agent = await this.agent(node);
    try {
      for (const disk of vm.disks) await this.disks.pull(disk, node, agent);
      const hosted = await forward(() =>
        agent.vms.launch({
          name,
          cpus: vm.cpus,
          memoryMiB: Math.round(vm.memoryBytes / MiB),
          disks: vm.disks.map((volume) => ({ volume })),
          kernel: vm.kernel ?? undefined,
          initrd: vm.initrd ?? undefined,
          append: vm.append ?? undefined,
          network: vm.network,
        }),
      );
      const attachMs = Math.round((performance.now() - started) * 10) / 10;
      await this.update(name, { state: "running", attachMs });
      this.options.log.info("vm started", { vm: name, node, attachMs, pid: hosted.pid });
      return { ...this.info(await this.row(name)), host: hosted };
    } catch (err) {
      // Only when the node is known to hold nothing of the VM does it let go of it; else stop/delete retry the clean-up.
      const clean = await this.disks.dropNodeCopies(vm, node, agent);
      await this.update(name, { state: "error", node: clean ? null : node, lastError: (err as Error).message });
      throw err;
    }
  }

  /** The node a VM of this size goes to, or a no-capacity error saying what each node is short of. */
  private async schedule(
    db: StoreDb<typeof schema>["db"],
    demand: { cpus: number; memoryBytes: number },
    options: { prefer?: string; only?: string; excluding?: string } = {},
  ): Promise<string> {
    const placed = (await db.select().from(this.vms).where(inArray(this.vms.state, placedStates))).flatMap((v) =>
      v.node && v.name !== options.excluding ? [{ node: v.node, cpus: v.cpus, memoryBytes: v.memoryBytes }] : [],
    );
    const choice = pickNode(await this.options.nodes(), placed, demand, { cpuRatio: this.options.cpuRatio, ...options });
    if ("error" in choice) throw new PlasmaError("no-capacity", choice.error);
    return choice.node;
  }

  /** StopVm: ACPI power-off (or QEMU quit with force), then the disks go back to the central store. */
  stop(name: string, force = false): Promise<VmInfo> {
    return this.exclusive(name, async () => {
      const vm = await this.row(name);
      if (vm.node === null || vm.state === "stopped") throw conflict(`VM "${name}" is not running`);
      await this.takeBack(vm, force);
      return this.info(await this.row(name));
    });
  }

  /** Stops QEMU on the VM's node (if it still runs), brings the disks back to the central store and forgets the VM there. */
  private async takeBack(vm: VmRow, force: boolean): Promise<void> {
    const node = vm.node!;
    const agent = await this.agent(node);
    await this.update(vm.name, { state: "stopping" });
    const goneIsFine = (err: unknown) => {
      if (!(err instanceof ApiError && err.status === 404)) throw err; // already gone from the agent
    };
    try {
      await agent.vms.stop(vm.name, force).catch(goneIsFine);
      await this.disks.push(vm, node, agent);
      await agent.vms.remove(vm.name).catch(goneIsFine);
    } catch (err) {
      await this.update(vm.name, { state: "error", lastError: `stop failed: ${(err as Error).message}` });
      throw err instanceof PlasmaError ? err : new PlasmaError("failed", `stopping VM "${vm.name}" on ${node} failed: ${(err as Error).message}`);
    }
    await this.update(vm.name, { state: "stopped", node: null });
    this.options.log.info("vm stopped", { vm: vm.name, node });
  }

  async reboot(name: string): Promise<VmInfo> {
    const vm = await this.row(name);
    if (vm.state !== "running" || vm.node === null) throw conflict(`VM "${name}" is not running`);
    const agent = await this.agent(vm.node);
    await forward(() => agent.vms.reboot(name));
    return this.info(vm);
  }

  /** Cold move: stop where it runs (its disks return to the central store), then start on `to`. */
  move(name: string, to: string): Promise<VmInfo> {
    return this.exclusive(name, async () => {
      const vm = await this.row(name);
      if (vm.node === to && vm.state === "running") throw conflict(`VM "${name}" already runs on ${to}`);
      // Refused before the VM is stopped when the target could not take it (its own share counted as free).
      await this.schedule(this.db, vm, { only: to, excluding: name });
      if (vm.state === "running") await this.takeBack(vm, false);
      return this.startHeld(name, { only: to }); // a VM shut off, crashed or failed on its node has its disks taken back first
    });
  }

  /** Deletes a VM: stopped first when it runs; its volumes go with it. */
  delete(name: string): Promise<void> {
    return this.exclusive(name, async () => {
      const vm = await this.row(name);
      if (vm.node !== null && vm.state !== "stopped") await this.takeBack(vm, true);
      for (const disk of vm.disks) await this.options.volumes.delete(disk, { force: true, detach: true, missingOk: true });
      await this.options.store.write((db) => db.delete(this.vms).where(eq(this.vms.name, name)));
      this.options.log.info("vm deleted", { vm: name });
    });
  }

  /** A VM with what its agent says about it now; a QEMU that died on its own makes the VM `crashed`. */
  async show(name: string): Promise<VmInfo> {
    const vm = await this.row(name);
    if (vm.state !== "running" || vm.node === null) return this.info(vm);
    const host = await (await this.agent(vm.node))
      .vms.get(name)
      .catch((err: Error) => {
        this.options.log.warn("could not ask the agent about a VM", { vm: name, node: vm.node, err });
        return undefined;
      });
    // The verdict applies only to the run it was asked about: not if a stop or another start came in between.
    const { vms } = this;
    const sameRun = and(eq(vms.name, name), eq(vms.state, "running"), eq(vms.node, vm.node), eq(vms.startedAt, vm.startedAt!));
    const mark = (fields: Partial<VmRow>) => this.options.store.write((db) => db.update(vms).set(fields).where(sameRun).returning({ name: vms.name }));
    if (host?.state === "crashed" && !this.busy.has(name)) {
      const changed = await mark({ state: "crashed", lastError: `QEMU exited unexpectedly; console tail:\n${host.consoleTail ?? ""}` });
      if (changed.length > 0) this.options.log.warn("vm crashed", { vm: name, node: vm.node });
    } else if (host?.state === "stopped" && !this.busy.has(name)) {
      // The guest powered itself off: its disks are still on the node until it is stopped or started again.
      const changed = await mark({ state: "shutoff" });
      if (changed.length > 0) this.options.log.info("vm shut off by its guest", { vm: name, node: vm.node });
    }
    return { ...this.info(await this.row(name)), ...(host ? { host } : {}), ...firstOutput(vm, host) };
  }

  /** The serial console, streamed from the VM's node. */
  async console(name: string, query: URLSearchParams, signal?: AbortSignal): Promise<Response> {
    const vm = await this.row(name);
    if (vm.node === null) throw conflict(`VM "${name}" is not on any node (start it first)`);
    const agent = await this.agent(vm.node);
    return forward(() => agent.vms.console(name, query, signal));
  }

  info(vm: VmRow): VmInfo {
    return { ...vm, createdAt: vm.createdAt.toISOString(), startedAt: vm.startedAt?.toISOString() ?? null };
  }
}

/** StartVm → first guest output, from the agent's timestamp of the console's first byte. */
function firstOutput(vm: VmRow, host: HostedVm | undefined): { firstOutputMs?: number } {
  if (!host?.firstOutputAt || !vm.startedAt) return {};
  return { firstOutputMs: Date.parse(host.firstOutputAt) - vm.startedAt.getTime() };
}
