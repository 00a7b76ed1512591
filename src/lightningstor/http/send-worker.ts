/**
 * A send worker: writes response bodies from files to a client socket with
 * sendfile(2) (see file-send.ts), blocking as long as the client takes, so
 * object bytes go from the page cache to the socket without passing through
 * JavaScript or holding up the event loop.
 *
 * The socket descriptor is a dup owned by the job: the worker closes it.
 */
import { closeFd } from "../../util/linux.ts";
import type { FilePart } from "./file-body.ts";
import { FileSender } from "./file-send.ts";

export interface SendJob {
  id: number;
  fd: number;
  parts: FilePart[];
}
export type SendResult = { id: number; error?: string };

const buffer = Buffer.allocUnsafe(1024 * 1024);

declare const self: Worker;

self.onmessage = (event: MessageEvent<SendJob>) => {
  const job = event.data;
  let error: string | undefined;
  try {
    new FileSender(job.fd, job.parts, buffer).run(true);
  } catch (err) {
    error = (err as Error).message;
  } finally {
    closeFd(job.fd);
  }
  self.postMessage({ id: job.id, error } satisfies SendResult);
};
