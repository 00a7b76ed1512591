/** The S3 errors the gateway answers, with their HTTP status (S3 API Reference, "Error responses"). */
export const s3ErrorStatus = {
  AccessDenied: 403,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooSmall: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidPartNumber: 416,
  MalformedXML: 400,
  NoSuchUpload: 404,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidRange: 416,
  KeyTooLongError: 400,
  MethodNotAllowed: 405,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  PreconditionFailed: 412,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidChunkSizeError: 403,
  InvalidRequest: 400,
  MissingContentLength: 411,
  NotImplemented: 501,
  RequestTimeTooSkewed: 403,
  RequestTimeout: 400,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
  /**
   * MinIO's answer when its disks are full, kept for the clients that know it:
   * 507 is no status the AWS SDKs or botocore retry (they retry 500, 502,
   * 503, 504 and throttling codes), so a full disk fails at once.
   */
  XMinioStorageFull: 507,
} as const;

/** The answer to a write when there is no room for it. */
export const storageFull = () => new S3Error("XMinioStorageFull", "the storage is full: delete some objects to proceed");

/** An S3 error code the gateway knows. */
export type S3ErrorCode = keyof typeof s3ErrorStatus;

/** An error answered as S3 XML with its code and status. */
export class S3Error extends Error {
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    /** Extra response headers (e.g. Content-Range on InvalidRange). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "S3Error";
  }

  get status(): number {
    return s3ErrorStatus[this.code];
  }
}
