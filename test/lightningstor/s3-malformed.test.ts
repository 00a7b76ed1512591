import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, HeadObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";
import { signedFetch } from "../helpers/sign.ts";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "raw" }));
  s3.destroy();
});
afterAll(async () => {
  await gw[Symbol.asyncDispose]();
});

const send = (request: Parameters<typeof signedFetch>[2]) => signedFetch(gw.endpoint, gw.credentials, request);

async function expectS3Error(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(await response.text()).toContain(`<Code>${code}</Code>`);
}

async function stored(key: string): Promise<boolean> {
  const s3 = gw.client();
  try {
    await s3.send(new HeadObjectCommand({ Bucket: "raw", Key: key }));
    return true;
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
    throw err;
  } finally {
    s3.destroy();
  }
}

describe("malformed S3 requests get the right error and store nothing", () => {
  test("a signed request with a correct hex payload hash is stored", async () => {
    expect((await send({ method: "PUT", path: "/raw/good", body: "hello" })).status).toBe(200);
    expect(await stored("good")).toBe(true);
  });

  test("a body that does not match x-amz-content-sha256 is XAmzContentSHA256Mismatch", async () => {
    const res = await send({ method: "PUT", path: "/raw/sha-mismatch", body: "hello", payloadHash: createHash("sha256").update("other").digest("hex") });
    await expectS3Error(res, 400, "XAmzContentSHA256Mismatch");
    expect(await stored("sha-mismatch")).toBe(false);
  });

  test("a wrong Content-MD5 or x-amz-checksum-crc32 is BadDigest", async () => {
    await expectS3Error(await send({ method: "PUT", path: "/raw/md5", body: "hello", headers: { "content-md5": "AAAAAAAAAAAAAAAAAAAAAA==" } }), 400, "BadDigest");
    await expectS3Error(await send({ method: "PUT", path: "/raw/crc", body: "hello", headers: { "x-amz-checksum-crc32": "AAAAAA==" } }), 400, "BadDigest");
    expect(await stored("md5")).toBe(false);
    expect(await stored("crc")).toBe(false);
  });

  test("bad aws-chunked framing and a wrong trailing checksum are refused", async () => {
    const chunked = (body: string, trailer = "x-amz-checksum-crc32") =>
      send({
        method: "PUT",
        path: "/raw/chunked",
        payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        headers: { "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "5", "x-amz-trailer": trailer },
        body,
      });
    await expectS3Error(await chunked("zz\r\nhello\r\n0\r\n\r\n"), 400, "IncompleteBody");
    await expectS3Error(await chunked("5\r\nhel"), 400, "IncompleteBody");
    await expectS3Error(await chunked("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), 400, "BadDigest");
    expect(await stored("chunked")).toBe(false);
    // The same body with the right CRC32 (of "hello": NhCmhg==) is stored, without its framing.
    expect((await chunked("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n")).status).toBe(200);
    const s3 = gw.client();
    const { GetObjectCommand } = await import("@aws-sdk/client-s3");
    const got = await s3.send(new GetObjectCommand({ Bucket: "raw", Key: "chunked" }));
    expect(await got.Body!.transformToString()).toBe("hello");
    expect(got.ContentEncoding).toBeUndefined();
    s3.destroy();
  });

  test("a skewed clock is RequestTimeTooSkewed and malformed authorization is refused", async () => {
    const old = new Date(Date.now() - 3600_000).toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
    const res = await fetch(`${gw.endpoint}/raw/x`, {
      headers: {
        "x-amz-date": old,
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        authorization: `AWS4-HMAC-SHA256 Credential=${gw.credentials.accessKeyId}/${old.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`,
      },
    });
    await expectS3Error(res, 403, "RequestTimeTooSkewed");
    await expectS3Error(await fetch(`${gw.endpoint}/raw/x`, { headers: { authorization: "AWS4-HMAC-SHA256 garbage" } }), 400, "AuthorizationHeaderMalformed");
  });

  test("invalid bucket names and unsupported sub-resources are answered in S3 XML", async () => {
    await expectS3Error(await send({ method: "PUT", path: "/Bad_Bucket" }), 400, "InvalidBucketName");
    await expectS3Error(await send({ method: "GET", path: "/raw?tagging" }), 501, "NotImplemented");
    await expectS3Error(await send({ method: "PUT", path: "/raw?acl" }), 501, "NotImplemented");
  });
});
