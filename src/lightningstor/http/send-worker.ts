/**
 * A send worker: writes response bodies from files to a client socket with
 * sendfile(2), so object bytes go from the page cache to the socket without
 * passing through JavaScript. Each file region is read once first and its
 * CRC32 checked, so a corrupt chunk ends the response early (the client sees
 * a short body, never a wrong one).
 *
 * The socket descriptor is a dup owned by the job: the worker closes it.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { closeFd, EAGAIN, EINTR, enlargeSendBuffer, pollWritable, sendFile, SystemError } from "../../util/linux.ts";
import type { FilePart } from "./file-body.ts";

export interface SendJob {
  id: number;
  fd: number;
  parts: FilePart[];
}
export type SendResult = { id: number; error?: string };

/** How long a client may stop reading before the response is abandoned. */
const STALL_MS = 60_000;
const buffer = Buffer.allocUnsafe(1024 * 1024);

declare const self: Worker;

self.onmessage = (event: MessageEvent<SendJob>) => {
  const job = event.data;
  let error: string | undefined;
  try {
    enlargeSendBuffer(job.fd);
    for (const part of job.parts) sendPart(job.fd, part);
  } catch (err) {
    error = (err as Error).message;
  } finally {
    closeFd(job.fd);
  }
  self.postMessage({ id: job.id, error } satisfies SendResult);
};

function sendPart(socket: number, part: FilePart): void {
  const file = openSync(part.path, "r");
  try {
    verify(file, part);
    for (let offset = part.offset, end = part.offset + part.length; offset < end; ) {
      const n = sendFile(socket, file, offset, end - offset);
      if (n > 0) offset += n;
      else if (n === -EAGAIN) {
        if (!pollWritable(socket, STALL_MS)) throw new Error("the client stopped reading");
      } else if (n === 0) throw new Error(`${part.path} is shorter than expected`);
      else if (n !== -EINTR) throw new SystemError("sendfile", -n);
    }
  } finally {
    closeSync(file);
  }
}

function verify(file: number, part: FilePart): void {
  let crc = 0;
  for (let done = 0; done < part.check.size; ) {
    const n = readSync(file, buffer, 0, Math.min(buffer.length, part.check.size - done), done);
    if (n === 0) throw new Error(`${part.path} is shorter than expected`);
    crc = Bun.hash.crc32(buffer.subarray(0, n), crc);
    done += n;
  }
  if (crc >>> 0 !== part.check.crc32) throw new Error(`${part.path} does not match its checksum`);
}
