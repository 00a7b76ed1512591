import { S3Metadata } from "./src/lightningstor/metadata.ts";
import { mkdtempSync } from "node:fs";
const m = new S3Metadata(mkdtempSync("/tmp/probe/meta-"));
m.addKey("AK", "SK", "root"); m.createBucket("bkt");
m.putObject({ bucket: "bkt", key: "k", size: 1, etag: '"x"', chunks: [{ id: "abc", size: 1 }], headers: {}, checksums: {}, lastModified: new Date() } as any);
for (const [name, f] of [["secretFor", () => m.secretFor("AK")], ["bucketExists", () => m.bucketExists("bkt")], ["getObject", () => m.getObject("bkt", "k")]] as const) {
  for (let i = 0; i < 200; i++) f();
  const t = performance.now(); for (let i = 0; i < 2000; i++) f(); console.log(name, ((performance.now() - t) / 2000 * 1000).toFixed(1), "µs");
}
