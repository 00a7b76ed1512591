import { defineCommand } from "citty";
import { ControllerClient, type NodeInfo } from "../../controller/client.ts";
import { clientArgs } from "../args.ts";
import { nodeColumns } from "../node-columns.ts";
import { adminClient } from "../context.ts";
import { formatBytes, print, renderRecord, renderTable } from "../output.ts";

const nodeArg = { node: { type: "positional", description: "node name or id", required: true } } as const;

const client = (args: Record<string, unknown>) => adminClient(args, ControllerClient);

function showNode(json: boolean | undefined, node: NodeInfo): void {
  print(json, node, () =>
    renderRecord({
      name: node.name,
      id: node.id,
      state: node.state,
      scheduling: node.scheduling,
      advertise: node.advertise,
      roles: node.roles.join(", "),
      zone: node.zone ?? "-",
      cpus: node.cpus,
      memory: formatBytes(node.memoryBytes),
      disk: `${formatBytes(node.diskFreeBytes)} free of ${formatBytes(node.diskBytes)}`,
      version: node.agentVersion,
      registered: node.registeredAt,
      "last heartbeat": node.lastHeartbeatAt,
    }),
  );
}

/** `photon node …`: inspect and manage worker nodes. */
export default defineCommand({
  meta: { name: "node", description: "Inspect and manage worker nodes" },
  subCommands: {
    list: defineCommand({
      meta: { name: "list", description: "List nodes" },
      args: clientArgs,
      async run({ args }) {
        const nodes = await client(args).listNodes();
        print(args.json, nodes, () =>
          renderTable(nodes, [
            ...nodeColumns<NodeInfo>(),
            { header: "zone", value: (n) => n.zone ?? "-" },
            { header: "advertise", value: (n) => n.advertise },
            { header: "last heartbeat", value: (n) => n.lastHeartbeatAt },
          ]),
        );
      },
    }),
    show: defineCommand({
      meta: { name: "show", description: "Show one node" },
      args: { ...clientArgs, ...nodeArg },
      async run({ args }) {
        showNode(args.json, await client(args).getNode(args.node));
      },
    }),
    drain: defineCommand({
      meta: { name: "drain", description: "Stop scheduling new work on a node" },
      args: { ...clientArgs, ...nodeArg, undo: { type: "boolean", description: "make the node schedulable again" } },
      async run({ args }) {
        const c = client(args);
        showNode(args.json, args.undo ? await c.undrain(args.node) : await c.drain(args.node));
      },
    }),
    remove: defineCommand({
      meta: { name: "remove", description: "Forget a node (it registers again if its agent still runs)" },
      args: { ...clientArgs, ...nodeArg },
      async run({ args }) {
        await client(args).removeNode(args.node);
        print(args.json, { removed: args.node }, () => `removed ${args.node}`);
      },
    }),
  },
});
