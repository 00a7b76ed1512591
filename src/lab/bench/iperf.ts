import { onNode, type LabNode } from "../state.ts";
import { runChecked } from "./process.ts";

/** One iperf3 TCP run. */
export interface IperfResult {
  /** Received throughput, MiB/s. */
  mibps: number;
  retransmits: number;
}

/**
 * iperf3 from `client` to `server` for `seconds`: a one-off server bound to the
 * server node's address inside its namespace, on a port in 20000–31999 (below
 * the ephemeral range); a port found taken is retried with another.
 */
export async function runIperf(server: LabNode, client: LabNode, seconds: number): Promise<IperfResult> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const proc = Bun.spawn(onNode(server, ["iperf3", "--server", "--one-off", "--bind", server.address, "--port", String(port), "--forceflush"]), {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      if (!(await serverListening(proc.stdout))) {
        const err = await new Response(proc.stderr).text();
        if (attempt < 5 && /in use/i.test(err)) continue;
        throw new Error(`iperf3 server on ${server.name} did not start: ${err.trim()}`);
      }
      const out = await runChecked(onNode(client, ["iperf3", "--client", server.address, "--port", String(port), "--time", String(seconds), "--json"]));
      const json = JSON.parse(out) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } } };
      return { mibps: json.end.sum_received.bits_per_second / 8 / (1024 * 1024), retransmits: json.end.sum_sent.retransmits ?? 0 };
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }
}

/** Reads the server's output until it says it listens; false when it exits first. */
async function serverListening(stdout: ReadableStream<Uint8Array>): Promise<boolean> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stdout.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      text += decoder.decode(value, { stream: true });
      if (text.includes("Server listening")) return true;
    }
  } finally {
    reader.releaseLock();
  }
}
