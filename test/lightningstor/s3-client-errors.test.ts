import { describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetBucketAclCommand, GetBucketVersioningCommand, GetObjectAclCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { connect } from "node:net";
import { s3Error, sharedGateway, startGateway } from "../helpers/s3-gateway.ts";
import { signedFetch, signHeaders } from "../helpers/sign.ts";

/** The errors and answers S3 clients branch on, checked on the wire where an SDK would hide them. */
const shared = sharedGateway("errs");
const send = (request: Parameters<typeof signedFetch>[2]) => signedFetch(shared.gw.endpoint, shared.gw.credentials, request);

async function expectS3Error(response: Response, status: number, code: string, message?: RegExp): Promise<void> {
  const text = await response.text();
  expect(response.status).toBe(status);
  expect(text).toContain(`<Code>${code}</Code>`);
  if (message) expect(text).toMatch(message);
}

/**
 * Sends a signed PUT's head and only the first bytes of its announced body,
 * and returns what the gateway answers meanwhile: an error it can give at once
 * must not wait for a body that is not coming.
 */
async function answerBeforeBody(path: string, headers: Record<string, string>): Promise<string> {
  const signed = await signHeaders(shared.gw.endpoint, shared.gw.credentials, { method: "PUT", path, headers, payloadHash: "UNSIGNED-PAYLOAD" });
  const { hostname, port } = new URL(shared.gw.endpoint);
  const socket = connect(Number(port), hostname);
  try {
    const head = [`PUT ${path} HTTP/1.1`, ...Object.entries({ ...signed, "content-length": "10485760" }).map(([n, v]) => `${n}: ${v}`), "", ""].join("\r\n");
    socket.write(head + "first bytes");
    let answer = "";
    for await (const piece of socket) {
      answer += String(piece);
      if (answer.includes("</Error>")) break;
    }
    return answer;
  } finally {
    socket.destroy();
  }
}

describe("errors S3 clients branch on", () => {
  test("a Content-MD5 that is not base64 of 16 bytes (empty, short, not base64) is InvalidDigest, answered before the body arrives", async () => {
    for (const md5 of ["", "AAAA", "not base64 at all!!!!!==", "AAAAAAAAAAAAAAAAAAAAAAAA"]) {
      const answer = await answerBeforeBody("/errs/digest", { "content-md5": md5 });
      expect(answer).toStartWith("HTTP/1.1 400");
      expect(answer).toContain("<Code>InvalidDigest</Code>");
    }
    expect((await s3Error(shared.s3.send(new HeadObjectCommand({ Bucket: "errs", Key: "digest" })))).status).toBe(404);
    // A well-formed Content-MD5 that does not match is still BadDigest.
    await expectS3Error(await send({ method: "PUT", path: "/errs/digest", body: "hello", headers: { "content-md5": "AAAAAAAAAAAAAAAAAAAAAA==" } }), 400, "BadDigest");
  });

  test("presigned URLs with X-Amz-Expires ≤ 0 or over 604800, or expired, are 403 AccessDenied with the reason", async () => {
    const url = await getSignedUrl(shared.s3, new GetObjectCommand({ Bucket: "errs", Key: "k" }), { expiresIn: 60 });
    // The expiry is checked before the signature, so changing it is enough to see the answer.
    for (const [expires, reason] of [["0", /at least 1 second/], ["-5", /at least 1 second/], ["604801", /at most 604800/]] as const) {
      await expectS3Error(await fetch(url.replace("X-Amz-Expires=60", `X-Amz-Expires=${expires}`)), 403, "AccessDenied", reason);
    }
    const old = await getSignedUrl(shared.s3, new GetObjectCommand({ Bucket: "errs", Key: "k" }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
    await expectS3Error(await fetch(old), 403, "AccessDenied", /expired/);
  });

  test("re-creating a bucket you own is 200 in us-east-1 and BucketAlreadyOwnedByYou in other regions", async () => {
    expect((await shared.s3.send(new CreateBucketCommand({ Bucket: "errs" }))).$metadata.httpStatusCode).toBe(200);
    await using gw = await startGateway({ args: ["--region", "eu-west-1"] });
    const s3 = gw.client({ region: "eu-west-1" });
    const configured = { Bucket: "twice", CreateBucketConfiguration: { LocationConstraint: "eu-west-1" as const } };
    await s3.send(new CreateBucketCommand(configured));
    expect(await s3Error(s3.send(new CreateBucketCommand(configured)))).toEqual({ name: "BucketAlreadyOwnedByYou", status: 409 });
    s3.destroy();
  });

  test("Content-Encoding: aws-chunked, gzip is stored as the remaining encodings exactly as sent", async () => {
    const put = (Key: string, encoding: string) =>
      send({
        method: "PUT",
        path: `/errs/${Key}`,
        payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        headers: { "content-encoding": encoding, "x-amz-decoded-content-length": "5", "x-amz-trailer": "x-amz-checksum-crc32" },
        body: "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
      });
    for (const [Key, sent, kept] of [["gz", "aws-chunked, gzip", "gzip"], ["two", "aws-chunked,gzip,  br", "gzip,  br"], ["last", "gzip, aws-chunked", "gzip"]] as const) {
      expect((await put(Key, sent)).status).toBe(200);
      expect((await shared.s3.send(new HeadObjectCommand({ Bucket: "errs", Key }))).ContentEncoding).toBe(kept);
    }
  });
});

describe("what tools ask before they work", () => {
  test("GetBucketVersioning answers an empty configuration: versioning never enabled", async () => {
    const res = await send({ method: "GET", path: "/errs?versioning" });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<VersioningConfiguration xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"(\/>|><\/VersioningConfiguration>)/);
    expect((await shared.s3.send(new GetBucketVersioningCommand({ Bucket: "errs" }))).Status).toBeUndefined();
    await expectS3Error(await send({ method: "PUT", path: "/errs?versioning", body: "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>" }), 501, "NotImplemented");
  });

  test("GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "errs", Key: "acl/k", Body: "x" }));
    const owner = { ID: shared.gw.credentials.accessKeyId, DisplayName: shared.gw.credentials.accessKeyId };
    for (const acl of [await shared.s3.send(new GetBucketAclCommand({ Bucket: "errs" })), await shared.s3.send(new GetObjectAclCommand({ Bucket: "errs", Key: "acl/k" }))]) {
      expect(acl.Owner).toEqual(owner);
      expect(acl.Grants).toEqual([{ Grantee: { ...owner, Type: "CanonicalUser" }, Permission: "FULL_CONTROL" }]);
    }
    expect((await s3Error(shared.s3.send(new GetObjectAclCommand({ Bucket: "errs", Key: "acl/missing" })))).name).toBe("NoSuchKey");
  });

  test("a SigV2-signed request (header or presigned query) is told to use SigV4", async () => {
    const v2Header = await fetch(`${shared.gw.endpoint}/errs/k`, { headers: { authorization: `AWS ${shared.gw.credentials.accessKeyId}:c2lnbmF0dXJl`, date: new Date().toUTCString() } });
    await expectS3Error(v2Header, 400, "InvalidRequest", /Signature Version 4/);
    const expires = Math.floor(Date.now() / 1000) + 300;
    const v2Query = await fetch(`${shared.gw.endpoint}/errs/k?AWSAccessKeyId=${shared.gw.credentials.accessKeyId}&Expires=${expires}&Signature=c2lnbmF0dXJl`);
    await expectS3Error(v2Query, 400, "InvalidRequest", /Signature Version 4/);
  });
});
