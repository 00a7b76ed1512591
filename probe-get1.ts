import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
const s3 = new S3Client({ endpoint: `http://127.0.0.1:${process.env.PORT ?? 19100}`, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "AKIAPROBE", secretAccessKey: "secretprobe" } });
for (let i = 0; i < 8; i++) { const t = performance.now(); const o = await s3.send(new GetObjectCommand({ Bucket: "bkt2", Key: "four" })); const h = performance.now(); for await (const _ of o.Body as AsyncIterable<Uint8Array>) {} console.log("headers", (h - t).toFixed(2), "total", (performance.now() - t).toFixed(2)); }
