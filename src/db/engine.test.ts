import { expect, test } from "bun:test";
import { MetadataSettingError, parseMetadataEngine, redactUrl } from "./engine.ts";

test("no setting and `sqlite` mean the embedded SQLite file", () => {
  expect(parseMetadataEngine(undefined)).toEqual({ kind: "sqlite" });
  expect(parseMetadataEngine("sqlite")).toEqual({ kind: "sqlite" });
});

test("a postgres:// or postgresql:// URL means PostgreSQL", () => {
  expect(parseMetadataEngine("postgres://photon@db/photon")).toEqual({ kind: "postgres", url: "postgres://photon@db/photon" });
  expect(parseMetadataEngine("postgresql://u@localhost/p?host=/run/pg").kind).toBe("postgres");
});

test("anything else is refused, with the password hidden", () => {
  expect(() => parseMetadataEngine("mysql://root@db/x")).toThrow(MetadataSettingError);
  expect(() => parseMetadataEngine("postgres://u:hunter2@[bad/x")).toThrow(/\*\*\*/);
  expect(redactUrl("postgres://u:hunter2@db/x")).toBe("postgres://u:***@db/x");
});
