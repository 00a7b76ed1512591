import type { VolumeClient } from "../../coronafs/client.ts";
import { ApiError } from "../../http/admin-client.ts";
import type { Logger } from "../../util/log.ts";
import { PlasmaError } from "../errors.ts";
import type { ImageService } from "../images/image-service.ts";
import type { VmRow } from "../schema.ts";
import { forward, type VolumeService } from "../volumes/volume-service.ts";
import type { AgentClients } from "./agent-clients.ts";

/**
 * A VM's disks moving between the central CoronaFS store and a node: onto it
 * at start (the base by NBD materialization, cached per node by digest, then
 * only the volume's own qcow2 layer as a file), back at stop or move, and the
 * node's copies dropped after a failed start.
 */
export class DiskMoves {
  /** Bases being materialized onto a node, so concurrent starts pull each once. */
  private readonly basesPulling = new Map<string, Promise<void>>();

  constructor(
    private readonly images: ImageService,
    private readonly volumes: VolumeService,
    private readonly log: Logger,
  ) {}

  /**
   * Puts one disk's current data on `node`: the image's base first (NBD
   * materialization from the central export, only non-zero ranges, once per
   * node and digest), then the volume's own file — for an image-backed disk,
   * just its qcow2 layer over that local base.
   */
  async pull(disk: string, node: string, agent: AgentClients): Promise<void> {
    const central = this.images.requireCentral();
    const volume = await this.volumes.managed(disk);
    const info = await forward(() => central.get(disk));
    let backing: string | undefined;
    if (info.backing) {
      backing = info.backing;
      await this.ensureNodeBase(backing, node, agent, central);
    }
    const started = performance.now();
    const file = await forward(() => central.exportStream(disk));
    await forward(() => agent.volumes.importStream(disk, file.body, { format: file.format, backing, replace: true, size: file.size }));
    await this.volumes.placeOn(volume.name, node);
    this.log.info("disk moved onto node", { volume: disk, node, bytes: file.size, ms: Math.round(performance.now() - started) });
  }

  private ensureNodeBase(base: string, node: string, agent: AgentClients, central: VolumeClient): Promise<void> {
    const key = `${node}/${base}`;
    let pulling = this.basesPulling.get(key);
    if (!pulling) {
      pulling = (async () => {
        const cached = await agent.volumes.get(base).then(
          () => true,
          (err) => (err instanceof ApiError && err.status === 404 ? false : Promise.reject(err)),
        );
        if (cached) return;
        const source = (await forward(() => central.get(base))).uris.tcp;
        if (!source) throw new PlasmaError("unavailable", "the central CoronaFS export has no TCP listener for nodes to pull from");
        const started = performance.now();
        await forward(() => agent.volumes.create({ name: base, source }));
        this.log.info("base materialized onto node", { base, node, ms: Math.round(performance.now() - started) });
      })().finally(() => this.basesPulling.delete(key));
      this.basesPulling.set(key, pulling);
    }
    return pulling;
  }

  /** Takes a VM's disks back from its node: each volume's file returns to the central store (replacing the old one), then the node's copy goes. */
  async push(vm: VmRow, node: string, agent: AgentClients): Promise<void> {
    const central = this.images.requireCentral();
    for (const disk of vm.disks) {
      if ((await this.volumes.managed(disk)).node !== node) continue;
      const info = await forward(() => central.get(disk));
      const file = await forward(() => agent.volumes.exportStream(disk));
      await forward(() => central.importStream(disk, file.body, { format: file.format, backing: info.backing ?? undefined, replace: true, size: file.size }));
      await this.volumes.placeOn(disk, null);
      await forward(() => agent.volumes.delete(disk, true));
    }
  }

  /** Drops the copies a failed start left on a node (the central store still has the data). */
  async dropNodeCopies(vm: VmRow, node: string, agent: AgentClients): Promise<boolean> {
    const gone = (err: unknown) => err instanceof ApiError && err.status === 404;
    let clean = true;
    const drop = async (what: string, call: () => Promise<unknown>) => {
      await call().catch((err) => {
        if (gone(err)) return; // never got there
        clean = false;
        this.log.warn("could not clean up a node after a failed start", { vm: vm.name, node, what, err });
      });
    };
    await drop("vm", () => agent.vms.remove(vm.name));
    for (const disk of vm.disks) await drop(disk, () => agent.volumes.delete(disk, true));
    if (clean) for (const disk of vm.disks) await this.volumes.placeOn(disk, null);
    return clean;
  }
}
