import { defineCommand } from "citty";
import { VmClient } from "../../plasmavmc/client.ts";
import type { VmInfo } from "../../plasmavmc/vms/vm-service.ts";
import { clientArgs, repeated } from "../args.ts";
import { adminClient, nameArg } from "../context.ts";
import { CliError } from "../errors.ts";
import { formatBytes, print, renderRecord, renderTable } from "../output.ts";

const named = nameArg("VM");

const client = (args: Record<string, unknown>) => adminClient(args, VmClient);

function show(json: boolean | undefined, vm: VmInfo): void {
  print(json, vm, () =>
    renderRecord({
      name: vm.name,
      state: vm.state,
      node: vm.node,
      image: vm.image,
      cpus: vm.cpus,
      memory: formatBytes(vm.memoryBytes),
      disks: vm.disks.join(", "),
      ...(vm.attachMs !== null ? { attachMs: vm.attachMs } : {}),
      ...(vm.firstOutputMs !== undefined ? { firstOutputMs: vm.firstOutputMs } : {}),
      ...(vm.lastError ? { error: vm.lastError } : {}),
      created: vm.createdAt,
    }),
  );
}

/** `photon vm …`: PlasmaVMC virtual machines. */
export default defineCommand({
  meta: { name: "vm", description: "Create and run VMs (QEMU on workers, disks on CoronaFS)" },
  subCommands: {
    create: defineCommand({
      meta: { name: "create", description: "Create a VM from an image and start it" },
      args: {
        ...clientArgs,
        ...named,
        image: { type: "string", description: "image to boot from", required: true },
        cpus: { type: "string", description: "vCPUs (default 1)" },
        memory: { type: "string", description: "memory, e.g. 512M (default 512M)" },
        disk: { type: "string", description: "boot disk size (default: the image's virtual size)" },
        "data-disk": { type: "string", description: "a blank data disk of this size; repeat for more" },
        kernel: { type: "string", description: "boot this kernel directly (a path on the worker)" },
        initrd: { type: "string", description: "initrd for --kernel" },
        append: { type: "string", description: "kernel command line for --kernel" },
        network: { type: "string", description: "none | user (default none)" },
        // citty reads --no-start as start=false, never as a flag of its own.
        start: { type: "boolean", default: true, description: "start the VM once created", negativeDescription: "create only; start later with vm start" },
      },
      async run({ args, rawArgs }) {
        if (args.network !== undefined && args.network !== "none" && args.network !== "user") throw new CliError("--network: expected none or user");
        const cpus = args.cpus === undefined ? undefined : Number(args.cpus);
        if (cpus !== undefined && !Number.isInteger(cpus)) throw new CliError("--cpus: expected a whole number");
        const vm = await client(args).create({
          name: args.name,
          image: args.image,
          cpus,
          memory: args.memory,
          disk: args.disk,
          dataDisks: repeated(rawArgs, "--data-disk"),
          kernel: args.kernel,
          initrd: args.initrd,
          append: args.append,
          network: args.network as "none" | "user" | undefined,
          start: args.start !== false,
        });
        show(args.json, vm);
      },
    }),
    list: defineCommand({
      meta: { name: "list", description: "List VMs" },
      args: clientArgs,
      async run({ args }) {
        const vms = await client(args).list();
        print(args.json, vms, () =>
          renderTable(vms, [
            { header: "name", value: (v) => v.name },
            { header: "state", value: (v) => v.state },
            { header: "node", value: (v) => v.node },
            { header: "image", value: (v) => v.image },
            { header: "cpus", value: (v) => v.cpus },
            { header: "memory", value: (v) => formatBytes(v.memoryBytes) },
            { header: "disks", value: (v) => v.disks.length },
          ]),
        );
      },
    }),
    show: defineCommand({
      meta: { name: "show", description: "Show one VM" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        show(args.json, await client(args).get(args.name));
      },
    }),
    start: defineCommand({
      meta: { name: "start", description: "Start a stopped VM" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        show(args.json, await client(args).start(args.name));
      },
    }),
    stop: defineCommand({
      meta: { name: "stop", description: "Stop a VM (ACPI power-off; --force quits QEMU at once)" },
      args: { ...clientArgs, ...named, force: { type: "boolean", description: "quit QEMU without asking the guest" } },
      async run({ args }) {
        show(args.json, await client(args).stop(args.name, args.force === true));
      },
    }),
    reboot: defineCommand({
      meta: { name: "reboot", description: "Reset a running VM" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        show(args.json, await client(args).reboot(args.name));
      },
    }),
    move: defineCommand({
      meta: { name: "move", description: "Cold-move a VM to another node: stop, move its disks, start there" },
      args: { ...clientArgs, ...named, to: { type: "string", description: "target node", required: true } },
      async run({ args }) {
        show(args.json, await client(args).move(args.name, args.to));
      },
    }),
    console: defineCommand({
      meta: { name: "console", description: "Print the serial console (--follow: keep streaming)" },
      args: { ...clientArgs, ...named, follow: { type: "boolean", description: "keep streaming until the VM stops" } },
      async run({ args }) {
        const stream = await client(args).console(args.name, args.follow === true);
        for await (const chunk of stream) process.stdout.write(chunk);
      },
    }),
    delete: defineCommand({
      meta: { name: "delete", description: "Delete a VM and its disks (stopped first if it runs)" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        await client(args).delete(args.name);
        print(args.json, { deleted: args.name }, () => `deleted ${args.name}`);
      },
    }),
  },
});
