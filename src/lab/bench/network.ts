import type { BenchContext, SectionPlan } from "./context.ts";
import { runIperf } from "./iperf.ts";
import type { NetworkBaseline, NetworkSection } from "./result.ts";

/** The TCP baselines: iperf3 from the CoronaFS worker and from the S3 client to node01. */
export function planNetwork(ctx: BenchContext): SectionPlan<NetworkSection> {
  const seconds = ctx.quick ? 1 : 10;
  const baselines: NetworkBaseline[] = [];
  const { server, worker, s3Client } = ctx.roles;
  const step = (role: NetworkBaseline["role"], client: typeof worker) => ({
    label: `iperf3 ${client.name} -> ${server.name} (${seconds} s)`,
    async run() {
      const r = await runIperf(server, client, seconds);
      baselines.push({ role, from: client.name, to: server.name, mibps: r.mibps, retransmits: r.retransmits, seconds });
    },
  });
  return {
    steps: [step("coronafs", worker), step("lightningstor", s3Client)],
    result: () => ({ status: "measured", baselines }),
  };
}
