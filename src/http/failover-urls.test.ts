import { describe, expect, test } from "bun:test";
import { FailoverUrls, parseUrlList } from "./failover-urls.ts";

describe("parseUrlList", () => {
  test("splits on commas, trims, drops trailing slashes and empty entries", () => {
    expect(parseUrlList(" http://a:7070/, http://b:7070//,,")).toEqual(["http://a:7070", "http://b:7070"]);
  });

  test("one URL is a list of one", () => {
    expect(parseUrlList("https://c.example:7070")).toEqual(["https://c.example:7070"]);
  });
});

describe("FailoverUrls", () => {
  test("starts with the first URL and tries each once, in list order", () => {
    const urls = new FailoverUrls("http://a,http://b,http://c");
    expect(urls.preferred).toBe("http://a");
    expect(urls.order()).toEqual(["http://a", "http://b", "http://c"]);
  });

  test("after an answer from another URL, starts there and wraps around the list", () => {
    const urls = new FailoverUrls("http://a,http://b,http://c");
    urls.answered("http://c");
    expect(urls.preferred).toBe("http://c");
    expect(urls.order()).toEqual(["http://c", "http://a", "http://b"]);
    urls.answered("http://b");
    expect(urls.order()).toEqual(["http://b", "http://c", "http://a"]);
  });

  test("an answer from a URL not in the list changes nothing", () => {
    const urls = new FailoverUrls("http://a,http://b");
    urls.answered("http://b");
    urls.answered("http://elsewhere");
    expect(urls.preferred).toBe("http://b");
  });

  test("a list naming no URL is refused", () => {
    expect(() => new FailoverUrls(" , ")).toThrow("names no URL");
  });
});
