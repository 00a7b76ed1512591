import { describe, expect, test } from "bun:test";
import { S3Error } from "./errors.ts";
import { route, validBucketName, virtualHostBucket } from "./router.ts";
import { parseTarget } from "./target.ts";

/** Routes `method target` with the given headers (path-style unless a Host under `domain` names the bucket). */
const r = (method: string, target: string, headers: Record<string, string> = {}, domain?: string) => route(method, parseTarget(target), new Headers(headers), domain);
/** The S3 error code routing throws. */
function refused(method: string, target: string, headers: Record<string, string> = {}): string {
  try {
    r(method, target, headers);
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
  throw new Error(`${method} ${target} was routed`);
}

describe("S3 router: service and buckets", () => {
  test("GET / is ListBuckets", () => expect(r("GET", "/")).toEqual({ op: "ListBuckets" }));
  test("PUT /bucket is CreateBucket", () => expect(r("PUT", "/b1c")).toEqual({ op: "CreateBucket", bucket: "b1c" }));
  test("HEAD /bucket is HeadBucket", () => expect(r("HEAD", "/b1c")).toEqual({ op: "HeadBucket", bucket: "b1c" }));
  test("DELETE /bucket is DeleteBucket", () => expect(r("DELETE", "/b1c")).toEqual({ op: "DeleteBucket", bucket: "b1c" }));
  test("GET /bucket?location is GetBucketLocation", () => expect(r("GET", "/b1c?location")).toEqual({ op: "GetBucketLocation", bucket: "b1c" }));
  test("GET /bucket?uploads is ListMultipartUploads", () => expect(r("GET", "/b1c?uploads")).toEqual({ op: "ListMultipartUploads", bucket: "b1c" }));
  test("GET /bucket is ListObjects, with list-type=2 ListObjectsV2", () => {
    expect(r("GET", "/b1c")).toEqual({ op: "ListObjects", bucket: "b1c" });
    expect(r("GET", "/b1c/")).toEqual({ op: "ListObjects", bucket: "b1c" });
    expect(r("GET", "/b1c?list-type=2&prefix=a")).toEqual({ op: "ListObjectsV2", bucket: "b1c" });
  });
  test("POST /bucket?delete is DeleteObjects", () => expect(r("POST", "/b1c?delete")).toEqual({ op: "DeleteObjects", bucket: "b1c" }));
  test("GET ?versioning is GetBucketVersioning; GET ?acl is GetBucketAcl or GetObjectAcl; setting them is NotImplemented", () => {
    expect(r("GET", "/b1c?versioning")).toEqual({ op: "GetBucketVersioning", bucket: "b1c" });
    expect(r("GET", "/b1c?acl")).toEqual({ op: "GetBucketAcl", bucket: "b1c" });
    expect(r("GET", "/b1c/a/k?acl")).toEqual({ op: "GetObjectAcl", bucket: "b1c", key: "a/k" });
    expect(refused("PUT", "/b1c?versioning")).toBe("NotImplemented");
    expect(refused("PUT", "/b1c?acl")).toBe("NotImplemented");
    expect(refused("PUT", "/b1c/k?acl")).toBe("NotImplemented");
    expect(refused("GET", "/b1c/k?versioning")).toBe("NotImplemented");
  });
});

describe("S3 router: objects", () => {
  test("PUT /bucket/key is PutObject; keys are percent-decoded and keep their slashes and dot segments", () => {
    expect(r("PUT", "/b1c/a/b.txt")).toEqual({ op: "PutObject", bucket: "b1c", key: "a/b.txt" });
    expect(r("PUT", "/b1c/a/../b%20c%2Fd")).toEqual({ op: "PutObject", bucket: "b1c", key: "a/../b c/d" });
  });
  test("PUT with x-amz-copy-source is CopyObject, naming its source", () => {
    expect(r("PUT", "/b1c/k", { "x-amz-copy-source": "/src/k" })).toEqual({ op: "CopyObject", bucket: "b1c", key: "k", source: { bucket: "src", key: "k" } });
    expect(r("PUT", "/b1c/k", { "x-amz-copy-source": "src/a%2Fb%20c?versionId=null" })).toEqual({ op: "CopyObject", bucket: "b1c", key: "k", source: { bucket: "src", key: "a/b c" } });
    expect(refused("PUT", "/b1c/k", { "x-amz-copy-source": "src" })).toBe("InvalidArgument");
    expect(refused("PUT", "/b1c/k", { "x-amz-copy-source": "src/%E0%A4%A" })).toBe("InvalidArgument");
  });
  test("GET /bucket/key is GetObject", () => expect(r("GET", "/b1c/k?response-content-type=text/plain")).toEqual({ op: "GetObject", bucket: "b1c", key: "k" }));
  test("HEAD /bucket/key is HeadObject", () => expect(r("HEAD", "/b1c/k")).toEqual({ op: "HeadObject", bucket: "b1c", key: "k" }));
  test("DELETE /bucket/key is DeleteObject", () => expect(r("DELETE", "/b1c/k")).toEqual({ op: "DeleteObject", bucket: "b1c", key: "k" }));
});

describe("S3 router: multipart uploads", () => {
  test("POST /bucket/key?uploads is CreateMultipartUpload", () => expect(r("POST", "/b1c/k?uploads")).toEqual({ op: "CreateMultipartUpload", bucket: "b1c", key: "k" }));
  test("PUT ?partNumber&uploadId is UploadPart", () => expect(r("PUT", "/b1c/k?partNumber=3&uploadId=u1")).toEqual({ op: "UploadPart", bucket: "b1c", key: "k", uploadId: "u1", partNumber: 3 }));
  test("PUT ?partNumber&uploadId with x-amz-copy-source is UploadPartCopy", () =>
    expect(r("PUT", "/b1c/k?partNumber=2&uploadId=u1", { "x-amz-copy-source": "src/k" })).toEqual({ op: "UploadPartCopy", bucket: "b1c", key: "k", uploadId: "u1", partNumber: 2, source: { bucket: "src", key: "k" } }));
  test("POST ?uploadId is CompleteMultipartUpload", () => expect(r("POST", "/b1c/k?uploadId=u1")).toEqual({ op: "CompleteMultipartUpload", bucket: "b1c", key: "k", uploadId: "u1" }));
  test("DELETE ?uploadId is AbortMultipartUpload", () => expect(r("DELETE", "/b1c/k?uploadId=u1")).toEqual({ op: "AbortMultipartUpload", bucket: "b1c", key: "k", uploadId: "u1" }));
  test("GET ?uploadId is ListParts", () => expect(r("GET", "/b1c/k?uploadId=u1")).toEqual({ op: "ListParts", bucket: "b1c", key: "k", uploadId: "u1" }));
  test("a missing or malformed partNumber is passed on as NaN for the operation to refuse", () => expect(r("PUT", "/b1c/k?uploadId=u1&partNumber=x")).toMatchObject({ op: "UploadPart", partNumber: NaN }));
});

describe("S3 router: virtual-hosted-style requests", () => {
  const domain = "s3.photon.test";
  test("the bucket comes from the Host, the whole path is the key", () => {
    expect(r("GET", "/a/b", { host: "b1c.s3.photon.test:9000" }, domain)).toEqual({ op: "GetObject", bucket: "b1c", key: "a/b" });
    expect(r("GET", "/", { host: "B1C.S3.photon.test" }, domain)).toEqual({ op: "ListObjects", bucket: "b1c" });
  });
  test("a Host outside the domain, or no domain configured, is path-style", () => {
    expect(r("GET", "/b1c/k", { host: "elsewhere.test" }, domain)).toEqual({ op: "GetObject", bucket: "b1c", key: "k" });
    expect(virtualHostBucket("b1c.s3.photon.test", undefined)).toBeUndefined();
    expect(virtualHostBucket(null, domain)).toBeUndefined();
  });
});

describe("S3 router: malformed and unsupported requests", () => {
  test("unsupported sub-resources are NotImplemented, never a wrong success", () => {
    for (const q of ["acl", "tagging", "versioning", "policy", "lifecycle", "attributes"]) {
      if (q !== "acl") expect(refused("GET", `/b1c/k?${q}`)).toBe("NotImplemented");
      expect(refused("PUT", `/b1c?${q}`)).toBe("NotImplemented");
    }
  });
  test("methods an endpoint does not take are MethodNotAllowed; POST on an object is NotImplemented", () => {
    expect(refused("PUT", "/")).toBe("MethodNotAllowed");
    expect(refused("DELETE", "/")).toBe("MethodNotAllowed");
    expect(refused("POST", "/b1c")).toBe("MethodNotAllowed");
    expect(refused("PATCH", "/b1c")).toBe("MethodNotAllowed");
    expect(refused("PATCH", "/b1c/k")).toBe("MethodNotAllowed");
    expect(refused("HEAD", "/b1c/k?uploadId=u1")).toBe("MethodNotAllowed");
    expect(refused("POST", "/b1c/k")).toBe("NotImplemented");
  });
  test("invalid bucket names are InvalidBucketName", () => {
    for (const name of ["ab", "UPPER", "-lead", "trail-", "a..b", "192.168.1.1", "x".repeat(64), "under_score"]) expect(refused("GET", `/${name}/k`)).toBe("InvalidBucketName");
    expect(validBucketName("my.bucket-1")).toBe(true);
  });
  test("a key over 1024 bytes is KeyTooLongError", () => {
    expect(refused("PUT", `/b1c/${"é".repeat(513)}`)).toBe("KeyTooLongError");
    expect(r("PUT", `/b1c/${"k".repeat(1024)}`)).toMatchObject({ op: "PutObject" });
  });
  test("malformed percent-encoding is InvalidRequest", () => {
    expect(refused("GET", "/b1c/a%zz")).toBe("InvalidRequest");
    expect(refused("GET", "/b1c/%E0%A4%A")).toBe("InvalidRequest");
  });
});
