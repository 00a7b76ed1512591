import { GetObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
const mk = (port: number) => new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "AKIAPROBE", secretAccessKey: "secretprobe" } });
const body = randomBytes(4 << 20);
for (const [name, port] of [["photon", 19100], ["ceiling", 19101]] as const) {
  const s3 = mk(port);
  await s3.send(new CreateBucketCommand({ Bucket: "bkt2" })).catch(() => {});
  await s3.send(new PutObjectCommand({ Bucket: "bkt2", Key: "four", Body: body }));
}
for (let r = 0; r < 3; r++) for (const [name, port] of [["photon", 19100], ["ceiling", 19101]] as const) {
  const s3 = mk(port);
  const t = performance.now();
  for (let i = 0; i < 50; i++) { const o = await s3.send(new GetObjectCommand({ Bucket: "bkt2", Key: "four" })); for await (const _ of o.Body as AsyncIterable<Uint8Array>) {} }
  console.log(name, ((performance.now() - t) / 50).toFixed(2), "ms per GET");
  s3.destroy();
}
