import { XMLParser, XMLValidator } from "fast-xml-parser";
import { createHash } from "node:crypto";
import type { PayloadMode } from "./auth.ts";
import { checkContentMd5 } from "./body.ts";
import { S3Error } from "./errors.ts";

/** An XML element as parsed: text, or child elements by name (an array where a name may repeat). */
export type XmlNode = string | XmlElement;

/**
 * Parses an XML request body (CompleteMultipartUpload, DeleteObjects,
 * CreateBucketConfiguration…) into elements whose text is decoded as XML 1.0
 * defines it (section 4.1 and 4.6): the five predefined entities and decimal
 * and hexadecimal character references. Go's encoding/xml writes `"` as
 * `&#34;`, tab as `&#x9;` and newline as `&#xA;`, so every Go client (rclone,
 * restic, minio-go, Terraform…) depends on this.
 *
 * fast-xml-parser decodes numeric references only with `htmlEntities`, which
 * also expands HTML names XML does not define (`&nbsp;`) and leaves unknown
 * ones as text, and it expands DOCTYPE entities: so entities are left raw
 * there and decoded here, strictly. A DOCTYPE (entity expansion, external
 * entities), a reference XML does not define and anything not well-formed
 * are MalformedXML. Text is not trimmed: keys may begin or end with spaces.
 */
export function parseXmlBody(text: string, arrays: readonly string[] = []): XmlElement {
  if (/<!DOCTYPE/i.test(text)) throw malformed("a DOCTYPE is not allowed in S3 request bodies");
  if (text.trim() === "" || XMLValidator.validate(text) !== true) throw malformed("the XML you provided was not well-formed");
  const parser = new XMLParser({
    parseTagValue: false,
    processEntities: false,
    trimValues: false,
    ignoreDeclaration: true,
    isArray: (name) => arrays.includes(name),
  });
  return decodeTree(parser.parse(text)) as XmlElement;
}

/**
 * Reads a request's XML body whole (they are small: at most 10,000 parts or
 * 1,000 keys), checks the payload hash the signature covers and Content-MD5
 * when given, and parses it.
 */
export async function readXmlBody(request: Request, payload: PayloadMode, arrays: readonly string[] = []): Promise<XmlElement> {
  const contentMd5 = request.headers.get("content-md5");
  checkContentMd5(contentMd5);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (payload.kind === "hash" && createHash("sha256").update(bytes).digest("hex") !== payload.sha256) {
    throw new S3Error("XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 does not match what was received");
  }
  if (contentMd5 !== null && createHash("md5").update(bytes).digest("base64") !== contentMd5.trim()) {
    throw new S3Error("BadDigest", "the Content-MD5 you specified did not match what was received");
  }
  return parseXmlBody(new TextDecoder().decode(bytes), arrays);
}

/** An element with child elements. */
export type XmlElement = { [name: string]: XmlNode | XmlNode[] };

/** The child elements named `name` (none when absent or when they hold only text). */
export function children(node: XmlNode | XmlNode[] | undefined, name: string): XmlElement[] {
  if (node === undefined || typeof node === "string" || Array.isArray(node)) return [];
  const found = node[name];
  const list = found === undefined ? [] : Array.isArray(found) ? found : [found];
  return list.map((item) => (typeof item === "string" ? {} : item));
}

/** The text of a child element; undefined when it is absent or has child elements. */
export function childText(node: XmlNode | XmlNode[] | undefined, name: string): string | undefined {
  if (node === undefined || typeof node === "string" || Array.isArray(node)) return undefined;
  const child = node[name];
  return typeof child === "string" ? child : undefined;
}

/** The text children of an element, by name. */
export function textChildren(element: XmlElement): Record<string, string> {
  return Object.fromEntries(Object.entries(element).filter((e): e is [string, string] => typeof e[1] === "string"));
}

function decodeTree(value: unknown): unknown {
  if (typeof value === "string") return decodeReferences(value);
  if (Array.isArray(value)) return value.map(decodeTree);
  if (value !== null && typeof value === "object") {
    // Whitespace between child elements is kept as "#text" (trimValues: false); it is not content.
    const entries = Object.entries(value).filter(([name, v]) => !(name === "#text" && typeof v === "string" && v.trim() === ""));
    return Object.fromEntries(entries.map(([name, v]) => [name, decodeTree(v)]));
  }
  // An empty element: the empty string.
  return "";
}

const predefined: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes `&name;`, `&#N;` and `&#xH;`; any other `&` is not well-formed XML. */
export function decodeReferences(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&([^;&]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(";")) throw malformed("an unterminated entity reference");
    const named = predefined[ref];
    if (named !== undefined) return named;
    const numeric = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (!numeric) throw malformed(`the entity &${ref.slice(0, 20)}; is not defined`);
    const code = numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]);
    if (!isXmlChar(code)) throw malformed(`&${ref}; is not a character XML allows`);
    return String.fromCodePoint(code);
  });
}

/** XML 1.0 `Char` (section 2.2). */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

function malformed(message: string): S3Error {
  return new S3Error("MalformedXML", message);
}
