import { defineCommand } from "citty";
import { CliError } from "../errors.ts";
import { formatBytes, print, renderRecord, renderTable } from "../output.ts";
import { s3Args, s3Client } from "./s3-args.ts";
import { rightsText } from "./s3-rights.ts";

type Bucket = { name: string; createdAt: string; publicRead: boolean; objects: number; bytes: number };
type BucketInfo = Bucket & { keys: { accessKey: string; name: string; access: string; read: boolean; write: boolean; owner: boolean }[] };

const bucketArg = { bucket: { type: "positional", description: "bucket name", required: true } } as const;

/** `photon s3 bucket …`: buckets, who may do what on them, public read. */
export const bucketCommand = defineCommand({
  meta: { name: "bucket", description: "List buckets, show who may use one, make one public" },
  subCommands: {
    list: defineCommand({
      meta: { name: "list", description: "List buckets with their objects and bytes" },
      args: s3Args,
      async run({ args }) {
        const { buckets } = await s3Client(args).request<{ buckets: Bucket[] }>("GET", "/v1/s3/buckets");
        print(args.json, buckets, () =>
          renderTable(buckets, [
            { header: "bucket", value: (b) => b.name },
            { header: "objects", value: (b) => b.objects },
            { header: "size", value: (b) => formatBytes(b.bytes) },
            { header: "public", value: (b) => (b.publicRead ? "read" : "no") },
            { header: "created", value: (b) => b.createdAt },
          ]),
        );
      },
    }),
    info: defineCommand({
      meta: { name: "info", description: "Show a bucket: objects, bytes, public read, and which keys may read (r), write (w), own (o) it" },
      args: { ...s3Args, ...bucketArg },
      async run({ args }) {
        const info = await s3Client(args).request<BucketInfo>("GET", `/v1/s3/buckets/${encodeURIComponent(args.bucket)}`);
        print(args.json, info, () => {
          const { keys, ...bucket } = info;
          const summary = renderRecord({ ...bucket, bytes: `${bucket.bytes} (${formatBytes(bucket.bytes)})`, publicRead: bucket.publicRead ? "yes: anonymous requests may read" : "no" });
          const table = renderTable(keys, [
            { header: "access key", value: (k) => k.accessKey },
            { header: "name", value: (k) => k.name },
            { header: "rights", value: (k) => rightsText(k) },
            { header: "why", value: (k) => (k.access === "scoped" ? "granted" : k.access === "root" ? "root key" : "legacy full access") },
          ]);
          return `${summary}\n\n${table}`;
        });
      },
    }),
    public: defineCommand({
      meta: { name: "public", description: "Let anonymous requests read a bucket (on) or stop it (off); never writes" },
      args: { ...s3Args, ...bucketArg, state: { type: "positional", description: "on | off", required: true } },
      async run({ args }) {
        if (args.state !== "on" && args.state !== "off") throw new CliError(`"${args.state}": write on or off`);
        const result = await s3Client(args).request<{ name: string; publicRead: boolean }>("PUT", `/v1/s3/buckets/${encodeURIComponent(args.bucket)}/public`, { publicRead: args.state === "on" });
        print(args.json, result, () => `${result.name}: ${result.publicRead ? "anonymous requests may now read it" : "anonymous requests are refused"}`);
      },
    }),
  },
});
