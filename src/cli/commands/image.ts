import { defineCommand } from "citty";
import { basename } from "node:path";
import { ImageClient } from "../../plasmavmc/client.ts";
import type { ImageInfo } from "../../plasmavmc/images/image-routes.ts";
import { clientArgs } from "../args.ts";
import { adminClient, nameArg } from "../context.ts";
import { formatBytes, print, renderRecord, renderTable } from "../output.ts";
import { fileUpload } from "../progress.ts";

const named = nameArg("image");

const client = (args: Record<string, unknown>) => adminClient(args, ImageClient);

function show(json: boolean | undefined, image: ImageInfo): void {
  print(json, image, () => renderRecord({ ...image, virtualSize: formatBytes(image.virtualSize), artifactSize: formatBytes(image.artifactSize) }));
}

/** `photon image …`: PlasmaVMC images, stored as LightningStor artifacts. */
export default defineCommand({
  meta: { name: "image", description: "Create and manage VM images (artifacts in LightningStor)" },
  subCommands: {
    create: defineCommand({
      meta: { name: "create", description: "Create an image from a local file, an http(s) URL or an s3://BUCKET/KEY object" },
      args: { ...clientArgs, ...named, from: { type: "string", description: "FILE, http(s)://URL or s3://BUCKET/KEY", required: true } },
      async run({ args }) {
        const images = client(args);
        if (/^(https?|s3):\/\//.test(args.from)) return show(args.json, await images.createFrom(args.name, args.from));
        const { size, body } = fileUpload(args.from, { flag: "--from", alternatives: " (or an http(s):// or s3:// source)", quiet: args.json });
        show(args.json, await images.upload(args.name, body, size, basename(args.from)));
      },
    }),
    list: defineCommand({
      meta: { name: "list", description: "List images" },
      args: clientArgs,
      async run({ args }) {
        const images = await client(args).list();
        print(args.json, images, () =>
          renderTable(images, [
            { header: "name", value: (i) => i.name },
            { header: "format", value: (i) => i.format },
            { header: "virtual size", value: (i) => formatBytes(i.virtualSize) },
            { header: "artifact", value: (i) => formatBytes(i.artifactSize) },
            { header: "sha256", value: (i) => i.sha256.slice(0, 16) },
            { header: "base", value: (i) => i.baseVolume },
            { header: "created", value: (i) => i.createdAt },
          ]),
        );
      },
    }),
    show: defineCommand({
      meta: { name: "show", description: "Show one image" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        show(args.json, await client(args).get(args.name));
      },
    }),
    delete: defineCommand({
      meta: { name: "delete", description: "Delete an image (refused while volumes were cloned from it)" },
      args: { ...clientArgs, ...named },
      async run({ args }) {
        await client(args).delete(args.name);
        print(args.json, { deleted: args.name }, () => `deleted ${args.name}`);
      },
    }),
  },
});
