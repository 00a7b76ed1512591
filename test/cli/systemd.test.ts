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

    test(`${unit} is hardened: systemd-analyze security rates its exposure 2.5 or better`, async () => {
      const proc = Bun.spawn(["systemd-analyze", "security", "--offline=yes", "--no-pager", join(unitDir, unit)], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      const exposure = /Overall exposure level for \S+: (\d+\.\d+)/.exec(stdout)?.[1];
      expect({ exposure, stderr, code }).toMatchObject({ exposure: expect.any(String), code: 0 });
      expect(Number(exposure)).toBeLessThanOrEqual(2.5);
    });
  }

  test("units leave MemoryDenyWriteExecute off because Bun's JIT cannot run under it", async () => {
    // PR_SET_MDWE (prctl 65, REFUSE_EXEC_GAIN) is what MemoryDenyWriteExecute=yes applies; the
    // photon binary is this Bun runtime. bun:jsc reports 1000000 DFG compiles when the JIT is off.
    using dir = tempDir();
    const script = join(dir.path, "jit.js");
    writeFileSync(script, `const f = (n) => { let s = 0; for (let i = 0; i < n; i++) s = (s + i) % 1000003; return s; };\nfor (let k = 0; k < 100; k++) f(1e5);\nconsole.log(require("bun:jsc").numberOfDFGCompiles(f));\n`);
    const underMdwe = "import ctypes, os, sys\nassert ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0\nos.execv(sys.argv[1], sys.argv[1:])\n";
    const run = async (argv: string[]) => (await new Response(Bun.spawn(argv, { stdout: "pipe", stderr: "inherit" }).stdout).text()).trim();
    expect(Number(await run([process.execPath, script]))).toBeLessThan(1000000);
    expect(await run(["python3", "-c", underMdwe, process.execPath, script])).toBe("1000000");
    for (const unit of units) expect(readFileSync(join(unitDir, unit), "utf8")).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });
});

describe("install and units as docs/operations.md describes them", () => {
  const operations = readFileSync(join(import.meta.dir, "../../docs/operations.md"), "utf8");
  const install = readFileSync(join(import.meta.dir, "../../scripts/install"), "utf8");
  const unit = (name: string) => readFileSync(join(unitDir, name), "utf8");

  test("scripts/install tells the operator to enable the units the docs start, in the docs' order", () => {
    const enabled = (text: string) => [...text.matchAll(/systemctl enable --now ([\w -]+?)(?:`|$)/gm)].map((m) => m[1]!.trim());
    expect(enabled(install)).toEqual(enabled(operations.slice(operations.indexOf("### Order"))).slice(0, 3));
  });

  test("the nbd-export unit serves the unix socket the docs name, and sockets are group-writable for QEMU", () => {
    expect(unit("photon-nbd-export.service")).not.toContain("--socket");
    expect(operations).toContain("/var/lib/photon/nbd.sock");
    for (const name of ["photon-nbd-export.service", "photon-agent.service"]) expect(unit(name)).toContain("UMask=0007");
  });

  test("every env file the docs write is the one its unit reads", () => {
    for (const mode of ["controller", "nbd-export", "s3-gateway", "agent"]) {
      expect(operations).toContain(`/etc/photon/${mode}.env`);
      expect(unit(`photon-${mode}.service`)).toContain(`EnvironmentFile=-/etc/photon/${mode}.env`);
    }
  });
});
