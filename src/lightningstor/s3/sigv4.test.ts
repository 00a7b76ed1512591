import { describe, expect, test } from "bun:test";
import { canonicalQuery, canonicalRequest, canonicalUri, EMPTY_SHA256, parseAuthorization, scopeOf, sha256Hex, signCanonical, signingKey } from "./sigv4.ts";

// The worked examples of the S3 API Reference, "Signature Calculations for the Authorization Header".
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE = "20130524T000000Z";
const scope = scopeOf({ date: "20130524", region: "us-east-1", service: "s3" });
const key = signingKey(SECRET, "20130524", "us-east-1", "s3");
const HOST = "examplebucket.s3.amazonaws.com";

function sign(method: string, rawPath: string, rawQuery: string, headers: Record<string, string>, payloadHash: string): string {
  const signed = Object.keys(headers).sort();
  const canonical = canonicalRequest({ method, rawPath, rawQuery, headers: (n) => headers[n] }, signed, payloadHash);
  return signCanonical(key, AMZ_DATE, scope, canonical);
}

describe("SigV4 against AWS's published examples", () => {
  test("GET Object with a Range header", () => {
    const sig = sign("GET", "/test.txt", "", { host: HOST, range: "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": AMZ_DATE }, EMPTY_SHA256);
    expect(sig).toBe("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  });

  test("PUT Object with an encoded key and a payload hash", () => {
    const payload = sha256Hex("Welcome to Amazon S3.");
    const headers = {
      date: "Fri, 24 May 2013 00:00:00 GMT",
      host: HOST,
      "x-amz-content-sha256": payload,
      "x-amz-date": AMZ_DATE,
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
    };
    expect(sign("PUT", "/test%24file.text", "", headers, payload)).toBe("98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  });

  test("GET Bucket lifecycle and list objects: sorted, encoded query strings", () => {
    const headers = { host: HOST, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": AMZ_DATE };
    expect(sign("GET", "/", "lifecycle", headers, EMPTY_SHA256)).toBe("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    expect(sign("GET", "/", "prefix=J&max-keys=2", headers, EMPTY_SHA256)).toBe("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  });
});

describe("canonical forms", () => {
  test("each path segment is encoded exactly once; slashes stay", () => {
    expect(canonicalUri("/bucket/a%20b/%C3%A9.jpg")).toBe("/bucket/a%20b/%C3%A9.jpg");
    expect(canonicalUri("/bucket/it's(1)*")).toBe("/bucket/it%27s%281%29%2A");
    expect(canonicalUri("/b/../x")).toBe("/b/../x");
  });

  test("query pairs are sorted, encoded, and a bare name gets an empty value", () => {
    expect(canonicalQuery("x-id=PutObject&uploads&a=%2F b")).toBe("a=%2F%20b&uploads=&x-id=PutObject");
    expect(canonicalQuery("X-Amz-Signature=abc&X-Amz-Date=1", ["X-Amz-Signature"])).toBe("X-Amz-Date=1");
  });

  test("the authorization header parses, and malformed ones are refused with the S3 code", () => {
    const parsed = parseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
    );
    expect(parsed).toEqual({ accessKey: "AKIAIOSFODNN7EXAMPLE", date: "20130524", region: "us-east-1", service: "s3", signedHeaders: ["host", "x-amz-date"], signature: "abc" });
    expect(() => parseAuthorization("AWS AKID:sig")).toThrow(expect.objectContaining({ code: "AuthorizationHeaderMalformed" }));
    expect(() => parseAuthorization("AWS4-HMAC-SHA256 Credential=AK/2013/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x")).toThrow(
      expect.objectContaining({ code: "AuthorizationHeaderMalformed" }),
    );
  });
});
