import { afterAll, beforeAll } from "bun:test";
import { CreateBucketCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { startPhoton, tempDir, type PhotonProcess } from "./photon.ts";
import { metadataArgs } from "./postgres.ts";

/** A running s3-gateway on port 0 with a known key, and an SDK client with default settings. */
export interface TestGateway {
  proc: PhotonProcess;
  endpoint: string;
  admin: string;
  token: string;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  client(overrides?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a gateway in a fresh temp dir: `wrap` runs it under another program
 * (e.g. strace), `args` are added to its command line, `token` is the cluster
 * token, `prepare` sees the data dir before the gateway starts, `credentials`
 * is its root key (a random secret by default), `dir` holds its data dir
 * instead of a fresh temp dir (left in place when disposed). Its metadata
 * is on the suite's engine (postgres.ts: `testMetadata`) unless `args` name one.
 */
export async function startGateway(
  options: { wrap?: string[]; args?: string[]; token?: string; dir?: string; prepare?: (dataDir: string) => void; credentials?: TestGateway["credentials"] } = {},
): Promise<TestGateway> {
  const dir = options.dir ? { path: options.dir, [Symbol.dispose]() {} } : tempDir("photon-s3-");
  const dataDir = join(dir.path, "data");
  options.prepare?.(dataDir);
  const token = options.token ?? "test-token-" + crypto.randomUUID();
  const credentials = options.credentials ?? { accessKeyId: "PHTESTKEY0000000000A", secretAccessKey: "test-secret-" + crypto.randomUUID() };
  const args = options.args ?? [];
  const metadata = args.includes("--metadata") ? [] : await metadataArgs();
  const proc = startPhoton(["s3-gateway", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--domain", "s3.photon.test", ...metadata, ...args], {
    env: { PHOTON_TOKEN: token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
    binary: options.wrap?.[0],
    prefix: options.wrap?.slice(1),
  });
  const endpoint = await proc.url("s3");
  const admin = await proc.url();
  return {
    proc,
    endpoint,
    admin,
    token,
    dataDir,
    credentials,
    client: (overrides = {}) => new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials, ...overrides }),
    async [Symbol.asyncDispose]() {
      await proc[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
}

/**
 * One gateway for a test file: started before its tests with `bucket`
 * created, stopped after them. `gw` and `s3` are there once tests run.
 */
export function sharedGateway(bucket: string): { readonly gw: TestGateway; readonly s3: S3Client } {
  const shared = {} as { gw: TestGateway; s3: S3Client };
  beforeAll(async () => {
    shared.gw = await startGateway();
    shared.s3 = shared.gw.client();
    await shared.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    shared.s3.destroy();
    await shared.gw[Symbol.asyncDispose]();
  });
  return shared;
}

/** The S3 error a promise rejects with (name and HTTP status); fails when it resolves. */
export async function s3Error(promise: Promise<unknown>): Promise<{ name: string; status: number }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode ?? 0 };
    throw err;
  }
  throw new Error("expected an S3 error");
}

/** Every chunk file in a gateway's local chunk store (to check that nothing leaks). */
export function chunkFiles(gw: TestGateway): string[] {
  const dir = join(gw.dataDir, "chunks");
  return readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)));
}
