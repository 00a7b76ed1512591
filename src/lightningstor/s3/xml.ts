import { XMLBuilder } from "fast-xml-parser";
import { S3Error } from "./errors.ts";

const builder = new XMLBuilder({ ignoreAttributes: false, suppressEmptyNode: false });
const NS = "http://s3.amazonaws.com/doc/2006-03-01/";

/** An S3 XML document response: `<root xmlns=…>…</root>`. */
export function xmlResponse(root: string, body: Record<string, unknown>, status = 200, headers: Record<string, string> = {}): Response {
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + builder.build({ [root]: { "@_xmlns": NS, ...body } });
  return new Response(xml, { status, headers: { "content-type": "application/xml", ...headers } });
}

/** The S3 error document for an error (S3 API Reference, "Error responses"). */
export function errorResponse(err: S3Error, resource: string, requestId: string, method: string): Response {
  const headers = { "content-type": "application/xml", "x-amz-request-id": requestId, ...err.headers };
  // HEAD responses carry no body; the status says it all.
  if (method === "HEAD") return new Response(null, { status: err.status, headers });
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    builder.build({ Error: { Code: err.code, Message: err.message, Resource: resource, RequestId: requestId } });
  return new Response(xml, { status: err.status, headers });
}
