import { defineCommand } from "citty";
import { repeated } from "../args.ts";
import { CliError } from "../errors.ts";
import { print, renderRecord, renderTable } from "../output.ts";
import { bucketCommand } from "./s3-bucket.ts";
import { repairCommand } from "./s3-repair.ts";
import { s3Args, s3Client } from "./s3-args.ts";
import { accessText, parseAllow, type Grant } from "./s3-rights.ts";

type Key = { accessKey: string; name: string; access: string; createBucket: boolean; grants: Grant[]; createdAt: string };

const keyArg = { accessKey: { type: "positional", description: "access key id", required: true } } as const;
const rightFlags = {
  read: { type: "boolean", description: "GET, HEAD and listings" },
  write: { type: "boolean", description: "PUT, DELETE, multipart uploads, copies into the bucket" },
  owner: { type: "boolean", description: "deleting the bucket" },
  "create-bucket": { type: "boolean", description: "creating buckets (the key owns what it creates)" },
} as const;

/** `photon s3 key allow|deny`: gives or takes rights on a bucket, or the right to create buckets. */
function rightsCommand(verb: "allow" | "deny") {
  return defineCommand({
    meta: {
      name: verb,
      description: verb === "allow" ? "Give a key rights on a bucket (--read --write --owner) or --create-bucket" : "Take rights from a key (a bucket with no flag: all of them)",
    },
    args: { ...s3Args, ...keyArg, bucket: { type: "positional", description: "bucket name", required: false }, ...rightFlags },
    async run({ args }) {
      const named = { read: args.read === true, write: args.write === true, owner: args.owner === true };
      const anyNamed = named.read || named.write || named.owner;
      if (args.bucket === undefined && anyNamed) throw new CliError("--read, --write and --owner need a BUCKET");
      if (args.bucket === undefined && !args["create-bucket"]) throw new CliError("name a BUCKET with --read, --write and/or --owner, or give --create-bucket");
      if (verb === "allow" && args.bucket !== undefined && !anyNamed) throw new CliError(`say what the key may do on ${args.bucket}: --read, --write and/or --owner`);
      const rights = verb === "deny" && !anyNamed ? { read: true, write: true, owner: true } : named;
      const body = { ...(args.bucket === undefined ? {} : { bucket: args.bucket, ...rights }), ...(args["create-bucket"] ? { createBucket: true } : {}) };
      const key = await s3Client(args).request<Key>("POST", `/v1/s3/keys/${encodeURIComponent(args.accessKey)}/${verb}`, body);
      print(args.json, key, () => `${key.accessKey} (${key.name}): ${accessText(key)}`);
    },
  });
}

/** `photon s3 key …`, `photon s3 bucket …` and `photon s3 repair …`: access keys, buckets and replication repair of an s3-gateway. */
export default defineCommand({
  meta: { name: "s3", description: "Manage LightningStor S3 access keys, their rights and buckets" },
  subCommands: {
    key: defineCommand({
      meta: { name: "key", description: "Create, list and delete S3 access keys; give and take their rights" },
      subCommands: {
        create: defineCommand({
          meta: { name: "create", description: "Create a key (its secret is shown only now); it may do only what --allow and --create-bucket say" },
          args: {
            ...s3Args,
            name: { type: "positional", description: "a name for the key", required: true },
            allow: { type: "string", description: "BUCKET:RIGHTS, RIGHTS being read, write, owner separated by commas (repeatable)", valueHint: "BUCKET:RIGHTS" },
            "create-bucket": rightFlags["create-bucket"],
          },
          async run({ args, rawArgs }) {
            const allow = repeated(rawArgs, "--allow").map(parseAllow);
            const key = await s3Client(args).request<Key & { secretKey: string }>("POST", "/v1/s3/keys", { name: args.name, allow, createBucket: args["create-bucket"] === true });
            print(args.json, key, () => renderRecord({ accessKey: key.accessKey, secretKey: key.secretKey, name: key.name, access: accessText(key) }));
            // The key API never returns a secret again (list shows access keys only).
            console.error(`the secret key is shown only this once: store it now (e.g. AWS_SECRET_ACCESS_KEY or ~/.aws/credentials)`);
          },
        }),
        list: defineCommand({
          meta: { name: "list", description: "List keys and what each may do" },
          args: s3Args,
          async run({ args }) {
            const { keys } = await s3Client(args).request<{ keys: Key[] }>("GET", "/v1/s3/keys");
            print(args.json, keys, () =>
              renderTable(keys, [
                { header: "access key", value: (k) => k.accessKey },
                { header: "name", value: (k) => k.name },
                { header: "access", value: (k) => accessText(k) },
                { header: "created", value: (k) => k.createdAt },
              ]),
            );
          },
        }),
        delete: defineCommand({
          meta: { name: "delete", description: "Delete a key" },
          args: { ...s3Args, ...keyArg },
          async run({ args }) {
            await s3Client(args).request<void>("DELETE", `/v1/s3/keys/${encodeURIComponent(args.accessKey)}`);
            print(args.json, { deleted: args.accessKey }, () => `deleted ${args.accessKey}`);
          },
        }),
        allow: rightsCommand("allow"),
        deny: rightsCommand("deny"),
      },
    }),
    bucket: bucketCommand,
    repair: repairCommand,
  },
});
