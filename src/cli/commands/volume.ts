import { defineCommand } from "citty";
import { foreignFormatAdvice, foreignFormatOfFile } from "../../coronafs/backend/foreign-format.ts";
import { VolumeClient } from "../../coronafs/client.ts";
import type { VolumeInfo } from "../../coronafs/volumes/json.ts";
import { clientArgs } from "../args.ts";
import { adminClient, nameArg } from "../context.ts";
import { CliError } from "../errors.ts";
import { formatBytes, print, renderRecord, renderTable } from "../output.ts";
import { fileUpload, pollingProgress } from "../progress.ts";

const named = nameArg("volume");

const client = (args: Record<string, unknown>) => adminClient(args, VolumeClient);

function show(json: boolean | undefined, volume: VolumeInfo): void {
  print(json, volume, () =>
    renderRecord({
      name: volume.name,
      format: volume.format,
      size: `${formatBytes(volume.sizeBytes)} (${volume.sizeBytes} bytes)`,
      backing: volume.backing ?? "-",
      connections: volume.connections,
      created: volume.createdAt,
      ...("copiedBytes" in volume ? { copied: formatBytes(Number(volume.copiedBytes)) } : {}),
      ...Object.fromEntries(Object.entries(volume.uris).map(([kind, uri]) => [`uri (${kind})`, uri])),
    }),
  );
}

/** `photon volume …`: CoronaFS volumes of an nbd-export (or the controller). */
export default defineCommand({
  meta: { name: "volume", description: "Create and manage CoronaFS block volumes" },
  subCommands: {
    create: defineCommand({
      meta: { name: "create", description: "Create a volume, empty or materialized from another export (--from)" },
      args: {
        ...clientArgs,
        ...named,
        size: { type: "string", description: "size, e.g. 10G (binary units); not with --from" },
        format: { type: "string", description: "raw | qcow2 (default raw; qcow2 with --backing)" },
        backing: { type: "string", description: "volume to overlay (qcow2 copy-on-write)" },
        image: { type: "string", description: "clone an image (controller only): a qcow2 overlay on the image's base" },
        from: { type: "string", description: "copy what this export holds into a raw volume here, e.g. a controller export's volume onto a worker's agent", valueHint: "nbd://HOST:PORT/NAME" },
      },
      async run({ args }) {
        if (args.format !== undefined && args.format !== "raw" && args.format !== "qcow2") throw new CliError("--format: expected raw or qcow2");
        if (args.from !== undefined && (args.size !== undefined || args.image !== undefined)) throw new CliError("--from takes neither --size nor --image");
        if (args.size === undefined && args.from === undefined && args.image === undefined) throw new CliError("give --size, --image or --from");
        const volumes = client(args);
        const created = volumes.create({ name: args.name, size: args.size, format: args.format, backing: args.backing, source: args.from, image: args.image });
        if (args.from === undefined) return show(args.json, await created);
        const name = args.name;
        show(args.json, await pollingProgress(`materializing ${name}`, created, () => volumes.progress(name), (v) => v.sizeBytes, { quiet: args.json }));
      },
    }),
    import: defineCommand({
      meta: { name: "import", description: "Upload a raw or qcow2 image file as a new volume" },
      args: {
        ...clientArgs,
        ...named,
        file: { type: "positional", description: "image file", required: true },
        format: { type: "string", description: "raw | qcow2 (default: detected)" },
      },
      async run({ args }) {
        if (args.format !== undefined && args.format !== "raw" && args.format !== "qcow2") throw new CliError("--format: expected raw or qcow2");
        const { size, body } = fileUpload(args.file, { flag: "FILE", quiet: args.json });
        // Refused before a byte is sent: the server would refuse it after the whole upload.
        const foreign = args.format === undefined ? foreignFormatOfFile(args.file) : undefined;
        if (foreign) throw new CliError(foreignFormatAdvice(foreign, args.file));
        show(args.json, await client(args).importStream(args.name, body, { format: args.format, size }));
      },
    }),
    list: defineCommand({
      meta: { name: "list", description: "List volumes" },
      args: clientArgs,
      async run({ args }) {
        const volumes = await client(args).list();
        print(args.json, volumes, () =>
          renderTable(volumes, [
            { header: "name", value: (v) => v.name },
            { header: "format", value: (v) => v.format },
            { header: "size", value: (v) => formatBytes(v.sizeBytes) },
            { header: "backing", value: (v) => v.backing },
            { header: "connections", value: (v) => v.connections },
            { header: "created", value: (v) => v.createdAt },
          ]),
        );
      },
    }),
    show: defineCommand({
      meta: { name: "show", description: "Show one volume" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        show(args.json, await client(args).get(args.name));
      },
    }),
    resize: defineCommand({
      meta: { name: "resize", description: "Grow a volume" },
      args: { ...clientArgs, ...named, size: { type: "string", description: "new size, e.g. 20G (binary units), as for create" } },
      async run({ args }) {
        const size = args.size ?? args._[1]; // `resize NAME 20G`, as before --size
        if (size === undefined) throw new CliError("give the new size with --size, e.g. --size 20G");
        show(args.json, await client(args).resize(args.name, size));
      },
    }),
    delete: defineCommand({
      meta: { name: "delete", description: "Delete a volume" },
      args: { ...clientArgs, ...named, force: { type: "boolean", description: "disconnect NBD clients first" } },
      async run({ args }) {
        await client(args).delete(args.name, args.force === true);
        print(args.json, { deleted: args.name }, () => `deleted ${args.name}`);
      },
    }),
    uri: defineCommand({
      meta: { name: "uri", description: "Print the NBD URIs of a volume" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        const { uris } = await client(args).get(args.name);
        print(args.json, uris, () => Object.values(uris).join("\n"));
      },
    }),
  },
});
