import { statSync } from "node:fs";
import { Counter, Gauge, type Registry } from "prom-client";
import type { NbdServer } from "./nbd/server.ts";
import type { VolumeStore } from "./volumes/store.ts";

/**
 * CoronaFS's figures on `/metrics`, read when scraped: NBD connections,
 * requests and errors by command, bytes read and written (counted by the
 * I/O workers, see nbd/stats.ts); volumes, their provisioned and allocated bytes.
 */
export function registerVolumeMetrics(registry: Registry, store: VolumeStore, nbd: () => NbdServer | undefined): void {
  const registers = [registry];
  // Counters the I/O workers keep: each scrape copies their totals in.
  const copied = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  const byCommand = (name: string, help: string, pick: (s: ReturnType<NbdServer["stats"]>) => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ["command"] as const,
      registers,
      collect() {
        this.reset();
        const stats = nbd()?.stats();
        if (stats) for (const [command, n] of Object.entries(pick(stats))) if (n > 0) this.inc({ command }, n);
      },
    });
  new Gauge({
    name: "photon_nbd_connections",
    help: "Open NBD connections (transmission phase).",
    registers,
    collect() {
      this.set(nbd()?.totalConnections() ?? 0);
    },
  });
  copied("photon_nbd_connections_total", "NBD connections that reached the transmission phase.", () => nbd()?.stats().connections ?? 0);
  byCommand("photon_nbd_requests_total", "NBD requests answered, by command.", (s) => s.requests);
  byCommand("photon_nbd_request_errors_total", "NBD requests answered with an error, by command.", (s) => s.errors);
  copied("photon_nbd_read_bytes_total", "Bytes NBD READs returned.", () => nbd()?.stats().bytesRead ?? 0);
  copied("photon_nbd_written_bytes_total", "Bytes NBD WRITEs stored.", () => nbd()?.stats().bytesWritten ?? 0);

  new Gauge({
    name: "photon_volumes",
    help: "Volumes in this store.",
    registers,
    collect() {
      this.set(store.list().length);
    },
  });
  new Gauge({
    name: "photon_volume_bytes",
    help: "Bytes of this store's volumes: provisioned (their sizes) and allocated (on disk).",
    labelNames: ["kind"] as const,
    registers,
    collect() {
      let provisioned = 0;
      let allocated = 0;
      for (const row of store.list()) {
        provisioned += row.sizeBytes;
        allocated += statSync(store.pathOf(row), { throwIfNoEntry: false })?.blocks ?? 0;
      }
      this.set({ kind: "provisioned" }, provisioned);
      this.set({ kind: "allocated" }, allocated * 512);
    },
  });
}
