import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { photonBinary, tempDir } from "../helpers/photon.ts";

const unitDir = join(import.meta.dir, "../../scripts/systemd");
const units = readdirSync(unitDir).filter((f) => f.endsWith(".service"));

describe("systemd units", () => {
  test("there is a unit for every server mode built so far", () => {
    expect(units).toEqual(expect.arrayContaining(["photon-controller.service", "photon-agent.service", "photon-nbd-export.service", "photon-s3-gateway.service"]));
  });

  for (const unit of units) {
    test(`${unit} passes systemd-analyze verify with no warnings`, async () => {
      using dir = tempDir();
      // verify checks that ExecStart exists: point it at the freshly built binary.
      const text = readFileSync(join(unitDir, unit), "utf8");
      expect(text).toContain("ExecStart=/usr/local/bin/photon ");
      writeFileSync(join(dir.path, unit), text.replaceAll("/usr/local/bin/photon", photonBinary));
      const proc = Bun.spawn(["systemd-analyze", "verify", join(dir.path, unit)], { stdout: "pipe", stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect(stderr.trim()).toBe("");
      expect(code).toBe(0);
    });
  }
});
