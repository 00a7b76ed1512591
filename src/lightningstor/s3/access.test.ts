import { describe, expect, test } from "bun:test";
import type { BucketRights } from "../key-store.ts";
import { authorize, operationRights, principalOf, type Principal } from "./access.ts";
import { S3Error } from "./errors.ts";
import { route, type Endpoint } from "./router.ts";
import { parseTarget } from "./target.ts";

const none: BucketRights = { read: false, write: false, owner: false };
const scoped = (grants: Record<string, Partial<BucketRights>>, createBucket = false): Principal => ({
  accessKey: "PHSCOPED",
  access: "scoped",
  createBucket,
  rightsOn: (bucket) => ({ ...none, ...grants[bucket] }),
});
const ep = (method: string, target: string, headers: Record<string, string> = {}): Endpoint => route(method, parseTarget(target), new Headers(headers));

/** The S3 error code authorization throws, or "allowed". */
function verdict(principal: Principal, endpoint: Endpoint): string {
  try {
    authorize(principal, endpoint);
    return "allowed";
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
}

describe("the right each S3 operation needs", () => {
  test("reads, listings and lookups need read", () => {
    for (const op of ["GetObject", "HeadObject", "ListObjects", "ListObjectsV2", "ListParts", "ListMultipartUploads", "HeadBucket", "GetBucketLocation", "GetBucketAcl", "GetObjectAcl", "GetBucketVersioning"] as const) {
      expect([op, operationRights[op]]).toEqual([op, "read"]);
    }
  });
  test("every change of objects needs write; deleting the bucket needs owner; creating one the create right", () => {
    for (const op of ["PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "AbortMultipartUpload"] as const) {
      expect([op, operationRights[op]]).toEqual([op, "write"]);
    }
    expect(operationRights.DeleteBucket).toBe("owner");
    expect(operationRights.CreateBucket).toBe("create-bucket");
    expect(operationRights.ListBuckets).toBe("none");
  });
});

describe("authorize", () => {
  test("a read-only key reads its bucket, and may neither write it nor touch another", () => {
    const key = scoped({ photos: { read: true } });
    expect(verdict(key, ep("GET", "/photos/a.jpg"))).toBe("allowed");
    expect(verdict(key, ep("GET", "/photos?list-type=2"))).toBe("allowed");
    expect(verdict(key, ep("PUT", "/photos/a.jpg"))).toBe("AccessDenied");
    expect(verdict(key, ep("DELETE", "/photos/a.jpg"))).toBe("AccessDenied");
    expect(verdict(key, ep("POST", "/photos?delete"))).toBe("AccessDenied");
    expect(verdict(key, ep("DELETE", "/photos"))).toBe("AccessDenied");
    expect(verdict(key, ep("GET", "/other/a.jpg"))).toBe("AccessDenied");
  });
  test("a copy needs write on its destination and read on its source", () => {
    const key = scoped({ dst: { write: true }, src: { read: true }, private: { write: true } });
    expect(verdict(key, ep("PUT", "/dst/k", { "x-amz-copy-source": "src/k" }))).toBe("allowed");
    expect(verdict(key, ep("PUT", "/dst/k", { "x-amz-copy-source": "private/k" }))).toBe("AccessDenied");
    expect(verdict(key, ep("PUT", "/dst/k?partNumber=1&uploadId=u", { "x-amz-copy-source": "private/k" }))).toBe("AccessDenied");
    expect(verdict(key, ep("PUT", "/src/k", { "x-amz-copy-source": "src/j" }))).toBe("AccessDenied");
  });
  test("creating a bucket needs the create right; deleting one needs owner", () => {
    expect(verdict(scoped({}), ep("PUT", "/newbucket"))).toBe("AccessDenied");
    expect(verdict(scoped({}, true), ep("PUT", "/newbucket"))).toBe("allowed");
    expect(verdict(scoped({ b1c: { read: true, write: true } }), ep("DELETE", "/b1c"))).toBe("AccessDenied");
    expect(verdict(scoped({ b1c: { owner: true } }), ep("DELETE", "/b1c"))).toBe("allowed");
  });
  test("root and legacy keys may do everything; ListBuckets is for any key", () => {
    for (const access of ["root", "legacy"] as const) {
      const key: Principal = { accessKey: "PHFULL", access, createBucket: false, rightsOn: () => none };
      for (const [method, target] of [["PUT", "/any"], ["DELETE", "/any"], ["PUT", "/any/k"], ["GET", "/any/k"]] as const) expect(verdict(key, ep(method, target))).toBe("allowed");
    }
    expect(verdict(scoped({}), ep("GET", "/"))).toBe("allowed");
  });
  test("an anonymous request may read a public bucket and nothing else", () => {
    const anonymous = principalOf({ accessOf: () => undefined, grantOn: () => none, isPublic: (b) => b === "site" }, undefined);
    expect(verdict(anonymous, ep("GET", "/site/index.html"))).toBe("allowed");
    expect(verdict(anonymous, ep("HEAD", "/site/index.html"))).toBe("allowed");
    expect(verdict(anonymous, ep("PUT", "/site/index.html"))).toBe("AccessDenied");
    expect(verdict(anonymous, ep("DELETE", "/site/index.html"))).toBe("AccessDenied");
    expect(verdict(anonymous, ep("GET", "/private/index.html"))).toBe("AccessDenied");
    expect(verdict(anonymous, ep("GET", "/"))).toBe("AccessDenied");
    expect(verdict(anonymous, ep("PUT", "/site2"))).toBe("AccessDenied");
  });
  test("a key reads a public bucket too, and its grants elsewhere stay its own", () => {
    const keys = { accessOf: () => ({ access: "scoped" as const, createBucket: false }), grantOn: (_k: string, b: string) => (b === "mine" ? { read: false, write: true, owner: false } : none), isPublic: (b: string) => b === "site" };
    const key = principalOf(keys, "PHKEY");
    expect(verdict(key, ep("GET", "/site/x"))).toBe("allowed");
    expect(verdict(key, ep("PUT", "/site/x"))).toBe("AccessDenied");
    expect(verdict(key, ep("PUT", "/mine/x"))).toBe("allowed");
    expect(verdict(key, ep("GET", "/mine/x"))).toBe("AccessDenied");
  });
  test("a key deleted after its signature was checked is refused", () => {
    expect(() => principalOf({ accessOf: () => undefined, grantOn: () => none, isPublic: () => false }, "PHGONE")).toThrow("does not exist");
  });
});
