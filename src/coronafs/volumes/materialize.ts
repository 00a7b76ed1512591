import { NbdClient } from "../nbd/client.ts";
import { parseNbdUri } from "../nbd/uri.ts";
import type { TlsClientCredentials } from "../tls/context.ts";
import { copyExport } from "../nbd/copy.ts";
import type { VolumeRow } from "../schema.ts";
import { VolumeError } from "./errors.ts";
import type { VolumeStore } from "./store.ts";

/**
 * Materializes a volume: copies what an NBD export (another exporter's
 * volume, a qcow2 overlay read flattened) holds into a new raw volume of
 * `store`, reading only the ranges that are not zeros, so holes stay holes.
 * Nobody sees the volume before the copy is complete and durable.
 * `onProgress` hears the bytes done (copied or skipped as zeros) of the total;
 * an `nbds://` source that names no credentials is verified with `sourceTls`.
 */
export async function materialize(
  store: VolumeStore,
  name: string,
  sourceUri: string,
  options: { onProgress?: (doneBytes: number, totalBytes: number) => void; sourceTls?: TlsClientCredentials } = {},
): Promise<VolumeRow & { copiedBytes: number }> {
  const { onProgress } = options;
  let client: NbdClient;
  try {
    client = await NbdClient.connect(parseNbdUri(sourceUri, options.sourceTls));
  } catch (err) {
    throw VolumeError.invalid("source", `cannot open ${sourceUri}: ${(err as Error).message}`);
  }
  try {
    let copiedBytes = 0;
    const row = await store.adopt(name, { format: "raw", origin: "materialized", logDetail: { source: sourceUri } }, async (fd) => {
      onProgress?.(0, client.size);
      copiedBytes = await copyExport(client, fd, (done) => onProgress?.(done, client.size));
    });
    return { ...row, copiedBytes };
  } finally {
    await client.close();
  }
}
