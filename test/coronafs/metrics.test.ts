import { expect, test } from "bun:test";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { mustRun, startExport } from "../helpers/nbd-export.ts";
import { waitFor } from "../helpers/photon.ts";

/** The figures an operator graphs for an nbd-export, read off `/metrics` after real NBD traffic. */

const MiB = 1024 * 1024;

/** The value of one sample of a Prometheus text exposition (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test("NBD connections, requests and errors by command, bytes, volumes and data-dir capacity appear on /metrics and move with traffic", async () => {
  await using ex = await startExport();
  const metrics = async () => (await ex.api("GET", "/metrics")).text();
  await ex.createVolume("base", 8 * MiB);
  const before = await metrics();
  expect(sample(before, 'photon_nbd_requests_total{command="write"}')).toBe(0);
  expect(sample(before, "photon_volumes")).toBe(1);

  await mustRun(["qemu-io", "-f", "raw", "-c", "write -P 0x11 0 2M", "-c", "read -P 0x11 0 1M", "-c", "flush", ex.tcpUri("base")]);
  // An overlay makes its base read-only: a write to the base is refused (EPERM).
  await ex.createVolume("top", 8 * MiB, { format: "qcow2", backing: "base" });
  const client = await NbdClient.connect({ uri: ex.tcpUri("base") });
  await expect(client.write(0, new Uint8Array(4096))).rejects.toThrow();
  await client.close();

  await waitFor(async () => sample(await metrics(), "photon_nbd_connections") === 0, "the connections to end");
  const after = await metrics();
  expect(sample(after, 'photon_nbd_requests_total{command="write"}')).toBeGreaterThanOrEqual(1);
  expect(sample(after, 'photon_nbd_requests_total{command="read"}')).toBeGreaterThanOrEqual(1);
  expect(sample(after, 'photon_nbd_requests_total{command="flush"}')).toBeGreaterThanOrEqual(1);
  expect(sample(after, "photon_nbd_written_bytes_total")).toBeGreaterThanOrEqual(2 * MiB);
  expect(sample(after, "photon_nbd_read_bytes_total")).toBeGreaterThanOrEqual(MiB);
  expect(sample(after, "photon_nbd_connections_total")).toBeGreaterThanOrEqual(1);
  expect(sample(after, 'photon_nbd_request_errors_total{command="write"}')).toBe(1);
  expect(sample(after, "photon_volumes")).toBe(2);
  expect(sample(after, 'photon_volume_bytes{kind="provisioned"}')).toBe(16 * MiB);
  expect(sample(after, 'photon_volume_bytes{kind="allocated"}')).toBeGreaterThanOrEqual(2 * MiB);
  expect(sample(after, 'photon_data_dir_bytes{kind="total"}')).toBeGreaterThan(0);
  expect(sample(after, 'photon_data_dir_bytes{kind="free"}')).toBeGreaterThan(0);
});
