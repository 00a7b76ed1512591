import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/photon.ts";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

/** The common S3 tools, unmodified, against the gateway (Debian's awscli, rclone, s3cmd). */
let gw: TestGateway;
const scratch = tempDir("photon-tools-");
const big = randomBytes(20 * 1024 * 1024 + 3); // large enough for the tools' multipart paths
const bigFile = join(scratch.path, "big.bin");
beforeAll(async () => {
  gw = await startGateway();
  writeFileSync(bigFile, big);
});
afterAll(async () => {
  await gw[Symbol.asyncDispose]();
  scratch[Symbol.dispose]();
});

async function ok(cmd: string[], env: Record<string, string> = {}): Promise<string> {
  const proc = Bun.spawn(cmd, { env: { PATH: "/usr/bin:/bin", HOME: scratch.path, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err}\n${out}`);
  return out;
}

describe("S3 tools work unmodified", () => {
  test("awscli: mb, cp up (multipart) and down, ls, rm", async () => {
    const env = { AWS_ACCESS_KEY_ID: gw.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: gw.credentials.secretAccessKey, AWS_DEFAULT_REGION: "us-east-1" };
    const aws = (...args: string[]) => ok(["/usr/bin/aws", "--endpoint-url", gw.endpoint, ...args], env);
    await aws("s3", "mb", "s3://awscli");
    await aws("s3", "cp", bigFile, "s3://awscli/dir/big.bin");
    const out = join(scratch.path, "aws-out.bin");
    await aws("s3", "cp", "s3://awscli/dir/big.bin", out);
    expect(readFileSync(out).equals(big)).toBe(true);
    expect(await aws("s3", "ls", "s3://awscli/dir/")).toContain("big.bin");
    await aws("s3", "rm", "s3://awscli/dir/big.bin");
    expect(await aws("s3", "ls", "s3://awscli/", "--recursive")).not.toContain("big.bin");
  });

  test("rclone (Go's XML encoder): multipart copyto above the cutoff, server-side multipart copy, lsf, delete", async () => {
    const env = {
      RCLONE_CONFIG_PH_TYPE: "s3",
      RCLONE_CONFIG_PH_PROVIDER: "Other",
      RCLONE_CONFIG_PH_ENDPOINT: gw.endpoint,
      RCLONE_CONFIG_PH_ACCESS_KEY_ID: gw.credentials.accessKeyId,
      RCLONE_CONFIG_PH_SECRET_ACCESS_KEY: gw.credentials.secretAccessKey,
      RCLONE_CONFIG_PH_REGION: "us-east-1",
      // Below the 20 MiB file, so the upload is multipart and the server-side copy is UploadPartCopy:
      // both end in a CompleteMultipartUpload whose ETags Go writes as &#34;…&#34;.
      RCLONE_CONFIG_PH_UPLOAD_CUTOFF: "10M",
      RCLONE_CONFIG_PH_CHUNK_SIZE: "5M",
      RCLONE_CONFIG_PH_COPY_CUTOFF: "5M",
    };
    const rclone = (...args: string[]) => ok(["rclone", "--config", "/dev/null", ...args], env);
    await rclone("mkdir", "ph:rclone-bucket");
    await rclone("copyto", bigFile, "ph:rclone-bucket/r/big.bin");
    await rclone("copyto", "ph:rclone-bucket/r/big.bin", "ph:rclone-bucket/r/copy.bin");
    for (const name of ["big.bin", "copy.bin"]) {
      const out = join(scratch.path, `rclone-${name}`);
      await rclone("copyto", `ph:rclone-bucket/r/${name}`, out);
      expect(readFileSync(out).equals(big)).toBe(true);
    }
    expect((await rclone("lsf", "-R", "ph:rclone-bucket")).split("\n")).toEqual(expect.arrayContaining(["r/big.bin", "r/copy.bin"]));
    // Multipart ETags (…-N): both really took the multipart path.
    const s3 = gw.client();
    for (const Key of ["r/big.bin", "r/copy.bin"]) expect((await s3.send(new HeadObjectCommand({ Bucket: "rclone-bucket", Key }))).ETag).toMatch(/-[0-9]+"$/);
    s3.destroy();
    await rclone("delete", "ph:rclone-bucket");
    expect((await rclone("lsf", "-R", "ph:rclone-bucket")).trim().split("\n")).not.toContain("r/big.bin");
  });

  test("s3cmd: mb, put (multipart), get, ls, del", async () => {
    const host = new URL(gw.endpoint).host;
    const s3cmd = (...args: string[]) =>
      ok(["s3cmd", "--config", "/dev/null", "--no-ssl", `--host=${host}`, `--host-bucket=${host}`, `--access_key=${gw.credentials.accessKeyId}`, `--secret_key=${gw.credentials.secretAccessKey}`, "--region=us-east-1", "--multipart-chunk-size-mb=5", ...args]);
    await s3cmd("mb", "s3://s3cmd-bucket");
    await s3cmd("put", bigFile, "s3://s3cmd-bucket/s/big.bin");
    const out = join(scratch.path, "s3cmd-out.bin");
    await s3cmd("get", "s3://s3cmd-bucket/s/big.bin", out);
    expect(readFileSync(out).equals(big)).toBe(true);
    expect(await s3cmd("ls", "s3://s3cmd-bucket/s/")).toContain("big.bin");
    await s3cmd("del", "s3://s3cmd-bucket/s/big.bin");
    expect(await s3cmd("ls", "s3://s3cmd-bucket/s/")).not.toContain("big.bin");
  });
});
