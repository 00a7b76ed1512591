import { describe, expect, test } from "bun:test";
import { S3Error } from "./errors.ts";
import { children, childText, decodeReferences, parseXmlBody, textChildren } from "./xml-request.ts";

/** What Go's encoding/xml (xml.EscapeText) writes for a text value: aws-sdk-go, minio-go and rclone all send this. */
function goEscape(text: string): string {
  const table: Record<string, string> = { '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;" };
  return [...text].map((c) => table[c] ?? c).join("");
}

function malformed(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error);
    expect((err as S3Error).code).toBe("MalformedXML");
    return;
  }
  throw new Error("expected MalformedXML");
}

describe("XML request bodies", () => {
  test("a CompleteMultipartUpload body as Go's encoder writes it gives the ETags with their quotes", () => {
    const body =
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      "<Part><ETag>&#34;577a2ebc0ee3a0b4d9b8bc7df81c1ce9&#34;</ETag><PartNumber>1</PartNumber></Part>" +
      "<Part><ETag>&#34;0f343b0931126a20f133d67c2b018a3b&#34;</ETag><PartNumber>2</PartNumber></Part>" +
      "</CompleteMultipartUpload>";
    const parts = children(children(parseXmlBody(body, ["Part"]), "CompleteMultipartUpload")[0], "Part").map(textChildren);
    expect(parts).toEqual([
      { ETag: '"577a2ebc0ee3a0b4d9b8bc7df81c1ce9"', PartNumber: "1" },
      { ETag: '"0f343b0931126a20f133d67c2b018a3b"', PartNumber: "2" },
    ]);
  });

  test("DeleteObjects keys with quotes, &, <, tab, newline, CR, non-ASCII and U+10FFFF come back exactly", () => {
    const keys = ['say "hi"', "it's", "a&b", "<tag>", "tab\there", "line\nbreak", "cr\r", "naïve/日本語", "max\u{10FFFF}", " spaced "];
    const body =
      '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' + keys.map((k) => `<Object><Key>${goEscape(k)}</Key></Object>`).join("") + "<Quiet>true</Quiet></Delete>";
    const doc = children(parseXmlBody(body, ["Object"]), "Delete")[0];
    expect(children(doc, "Object").map((o) => childText(o, "Key"))).toEqual(keys);
    expect(childText(doc, "Quiet")).toBe("true");
  });

  test("pretty-printed bodies (whitespace between elements) and a single element parse as arrays", () => {
    const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Delete>\n  <Object>\n    <Key>k</Key>\n  </Object>\n</Delete>\n';
    const doc = children(parseXmlBody(body, ["Object"]), "Delete")[0];
    expect(children(doc, "Object").map((o) => childText(o, "Key"))).toEqual(["k"]);
  });

  test("decimal and hexadecimal references and the five predefined entities are decoded", () => {
    expect(decodeReferences("&#65;&#x42;&#x00043;&amp;&lt;&gt;&quot;&apos;&#x10FFFF;&#1114111;")).toBe("ABC&<>\"'\u{10FFFF}\u{10FFFF}");
  });

  test("a DOCTYPE (internal or external entities) is refused, not expanded", () => {
    malformed(() => parseXmlBody('<!DOCTYPE Delete [<!ENTITY e "boom">]><Delete><Object><Key>&e;</Key></Object></Delete>'));
    malformed(() => parseXmlBody('<!DOCTYPE Delete SYSTEM "file:///etc/passwd"><Delete/>'));
    malformed(() => parseXmlBody('<?xml version="1.0"?><!doctype Delete [<!ENTITY a "aaaa">]><Delete/>'));
  });

  test("undefined entities, references to characters XML forbids and bare ampersands are MalformedXML", () => {
    for (const text of ["&nbsp;", "&copy;", "&#0;", "&#x1;", "&#xD800;", "&#xFFFE;", "&#x110000;", "a & b", "&amp", "&#x;", "&#;"]) {
      malformed(() => parseXmlBody(`<Delete><Object><Key>${text}</Key></Object></Delete>`));
    }
  });

  test("bodies that are not well-formed XML are MalformedXML", () => {
    for (const body of ["", "   ", "not xml", "<Delete><Object></Delete>", "<Delete><Object><Key>k</Key></Object>", "<a></b>", "<Delete></Delete><Delete></Delete>"]) {
      malformed(() => parseXmlBody(body));
    }
  });
});
