import { defineCommand } from "citty";
import { AdminClient } from "../../http/admin-client.ts";
import { clientArgs } from "../args.ts";
import { clientTarget, commandContext } from "../context.ts";
import { print, renderRecord, renderTable } from "../output.ts";

type Key = { accessKey: string; name: string; createdAt: string };

function client(args: Record<string, unknown>): AdminClient {
  const { server, token } = clientTarget(commandContext(args).sources, "http://127.0.0.1:7073");
  return new AdminClient(server, token);
}

const s3Args = { ...clientArgs, server: { ...clientArgs.server, description: "admin API URL (default http://127.0.0.1:7073, the local s3-gateway)" } } as const;

/** `photon s3 key …`: S3 access keys of an s3-gateway. */
export default defineCommand({
  meta: { name: "s3", description: "Manage LightningStor S3 access keys" },
  subCommands: {
    key: defineCommand({
      meta: { name: "key", description: "Create, list and delete S3 access keys" },
      subCommands: {
        create: defineCommand({
          meta: { name: "create", description: "Create a key (its secret is shown only now)" },
          args: { ...s3Args, name: { type: "positional", description: "a name for the key", required: true } },
          async run({ args }) {
            const key = await client(args).request<Key & { secretKey: string }>("POST", "/v1/s3/keys", { name: args.name });
            print(args.json, key, () => renderRecord(key));
            // The key API never returns a secret again (list shows access keys only).
            console.error(`the secret key is shown only this once: store it now (e.g. AWS_SECRET_ACCESS_KEY or ~/.aws/credentials)`);
          },
        }),
        list: defineCommand({
          meta: { name: "list", description: "List keys" },
          args: s3Args,
          async run({ args }) {
            const { keys } = await client(args).request<{ keys: Key[] }>("GET", "/v1/s3/keys");
            print(args.json, keys, () =>
              renderTable(keys, [
                { header: "access key", value: (k) => k.accessKey },
                { header: "name", value: (k) => k.name },
                { header: "created", value: (k) => k.createdAt },
              ]),
            );
          },
        }),
        delete: defineCommand({
          meta: { name: "delete", description: "Delete a key" },
          args: { ...s3Args, accessKey: { type: "positional", description: "access key id", required: true } },
          async run({ args }) {
            await client(args).request<void>("DELETE", `/v1/s3/keys/${encodeURIComponent(args.accessKey)}`);
            print(args.json, { deleted: args.accessKey }, () => `deleted ${args.accessKey}`);
          },
        }),
      },
    }),
  },
});
