import { describe, expect, test } from "bun:test";
import { assess } from "./assessment.ts";
import { recordedRun } from "./testdata/fixture.ts";

const find = (bullets: string[], start: string) => bullets.find((b) => b.startsWith(start) || b.includes(start));

describe("the assessment", () => {
  test("states every ratio the seed states, with this run's value and the seed's", () => {
    const bullets = assess(recordedRun());
    // 3727.27 local, 1123.88 controller: 30.2 %
    expect(find(bullets, "CoronaFS controller-export sequential reads are 30.2% of the measured local-disk baseline")).toContain("(seed: 1.6%");
    expect(find(bullets, "CoronaFS node-local depth-32 reads are")).toContain("seed: 0.9%");
    expect(find(bullets, "LightningStor large-object downloads are")).toContain("seed: 85.3%");
  });

  test("a target is missed by the gap between the number and the bound, and met once the number passes it", () => {
    const run = recordedRun();
    const missed = find(assess(run), "controller-export sequential read vs the worker's TCP baseline")!;
    expect(missed).toStartWith("Target missed by 45.2 points");
    expect(missed).toContain("loopback lab without link shaping");
    if (run.coronafs.status !== "measured") throw new Error("fixture has CoronaFS");
    run.coronafs.columns.controller.seqRead = 2100; // 98.6 % of the 2128.96 MiB/s baseline
    const met = find(assess(run), "controller-export sequential read vs the worker's TCP baseline")!;
    expect(met).toStartWith("Target met: controller-export sequential read vs the worker's TCP baseline is 98.6%");
    expect(met).toContain("0.6 points to spare");
  });

  test("flipping a number changes the bullet worded from it", () => {
    const run = recordedRun();
    const before = find(assess(run), "LightningStor's replicated S3 path")!;
    if (run.lightningstor.status !== "measured") throw new Error("fixture has LightningStor");
    run.lightningstor.large.getSeconds /= 2;
    const after = find(assess(run), "LightningStor's replicated S3 path")!;
    expect(after).not.toBe(before);
    expect(after).toContain("down at 291.16 MiB/s");
  });

  test("the node-local export is held against nbdkit for every fio job, the weakest one deciding the target", () => {
    const run = recordedRun();
    const bullets = assess(run);
    // sequential write: 681.32 vs 1012.5 MiB/s is the weakest
    expect(find(bullets, "Against nbdkit serving a same-size file")).toContain("4k random read QD32 0.87×, depth-32 write 0.98×, depth-32 read 0.91×; the weakest job is sequential write.");
    const target = find(bullets, "node-local export vs nbdkit on the same worker")!;
    expect(target).toStartWith("Target missed by 0.33×: node-local export vs nbdkit on the same worker, worst fio job is 0.67× (target ≥ 1.00×)");
    expect(target).toContain("the node-local export's own per-request cost");
    if (run.coronafs.status !== "measured") throw new Error("fixture has CoronaFS");
    run.coronafs.nbdkit = { ...run.coronafs.columns.nodeLocal };
    expect(find(assess(run), "node-local export vs nbdkit on the same worker")).toStartWith("Target met");
  });

  test("shaped links are named as the limit instead of the CPU", () => {
    const run = recordedRun();
    run.environment = { ...run.environment, network: "netns", linkRate: "1gbit", linkDelay: "0.2ms" };
    const bullets = assess(run);
    expect(find(bullets, "TCP baselines:")).toContain("over links shaped to 1gbit with 0.2ms delay");
    expect(find(bullets, "S3 large-object download vs")).toContain("the 1gbit link is the ceiling");
  });

  test("the VM targets are not measured while PlasmaVMC is missing", () => {
    const bullets = assess(recordedRun());
    expect(find(bullets, "second image-backed CreateVolume")).toBe("Target ≤ 0.020 s for second image-backed CreateVolume: not measured in this run.");
    expect(bullets.at(-1)).toContain("PlasmaVMC not available");
  });

  test("R and W other than the issue's 3 and 2 are called out", () => {
    const run = recordedRun();
    if (run.lightningstor.status !== "measured") throw new Error("fixture has LightningStor");
    run.lightningstor.replicas = 2;
    run.lightningstor.writeQuorum = 2;
    expect(find(assess(run), "The issue states its S3 targets at R = 3, W = 2")).toContain("this lab ran R = 2, W = 2");
  });
});
