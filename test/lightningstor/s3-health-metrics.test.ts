import { expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { startGateway } from "../helpers/s3-gateway.ts";

/** The value of one Prometheus sample, 0 when absent. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

test("the S3 port answers anonymous health probes and nothing else without a signature", async () => {
  await using gw = await startGateway();
  for (const path of ["/health/live", "/health/ready", "/minio/health/live", "/minio/health/ready"]) {
    const response = await fetch(gw.endpoint + path);
    expect({ path, status: response.status, body: await response.text() }).toEqual({ path, status: 200, body: "" });
  }
  const anonymous = await fetch(`${gw.endpoint}/health/other`);
  expect(anonymous.status).toBe(403);
  expect(await anonymous.text()).toContain("AccessDenied");
  // A signed request for a bucket named "health" is S3, not a probe.
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "health" }));
  await s3.send(new PutObjectCommand({ Bucket: "health", Key: "live", Body: "a real object" }));
  expect(await (await s3.send(new GetObjectCommand({ Bucket: "health", Key: "live" }))).Body!.transformToString()).toBe("a real object");
  s3.destroy();
});

test("/metrics counts S3 requests by operation and status, the bytes in and out, and their latency", async () => {
  await using gw = await startGateway();
  const metrics = async () => (await fetch(`${gw.admin}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } })).text();
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "counted" }));
  const body = Buffer.alloc(100_000, 7);
  await s3.send(new PutObjectCommand({ Bucket: "counted", Key: "k", Body: body }));
  await (await s3.send(new GetObjectCommand({ Bucket: "counted", Key: "k" }))).Body!.transformToByteArray();
  await s3.send(new GetObjectCommand({ Bucket: "counted", Key: "missing" })).catch(() => undefined);
  const text = await metrics();
  expect(sample(text, "photon_s3_requests_total", 'operation="PutObject",status="200"')).toBe(1);
  expect(sample(text, "photon_s3_requests_total", 'operation="GetObject",status="200"')).toBe(1);
  expect(sample(text, "photon_s3_requests_total", 'operation="GetObject",status="404"')).toBe(1);
  expect(sample(text, "photon_s3_bytes_total", 'direction="in"')).toBeGreaterThanOrEqual(body.length);
  expect(sample(text, "photon_s3_bytes_total", 'direction="out"')).toBeGreaterThanOrEqual(body.length);
  expect(sample(text, "photon_s3_request_duration_seconds_count", 'operation="PutObject"')).toBe(1);
  s3.destroy();
});
