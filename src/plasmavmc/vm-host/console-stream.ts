import { open, type FileHandle } from "node:fs/promises";

/** How often a followed console is checked for new bytes. */
const FOLLOW_POLL_MS = 100;
const READ_BYTES = 64 * 1024;

/** Options for {@link consoleStream}. */
export interface ConsoleStreamOptions {
  path: string;
  /** First byte to send. */
  offset: number;
  /** Keep sending new bytes until `finished` says the VM is gone (then send the rest and end). */
  follow: boolean;
  finished: () => boolean;
  /** The client went away, or the agent stops. */
  signal: AbortSignal;
}

/**
 * A VM's serial log from `offset` on, as a byte stream; with `follow`, like
 * `tail -f` until the VM's QEMU has exited. Nothing is held in memory beyond
 * one read.
 */
export function consoleStream(options: ConsoleStreamOptions): ReadableStream<Uint8Array> {
  let file: FileHandle | undefined;
  let position = options.offset;
  const close = async () => {
    const f = file;
    file = undefined;
    await f?.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        file ??= await open(options.path, "r");
        for (;;) {
          // Read `finished` before reading, so bytes QEMU wrote before it exited are still sent.
          const last = !options.follow || options.finished() || options.signal.aborted;
          const buf = Buffer.alloc(READ_BYTES);
          const { bytesRead } = await file.read(buf, 0, READ_BYTES, position);
          if (bytesRead > 0) {
            position += bytesRead;
            controller.enqueue(buf.subarray(0, bytesRead));
            return;
          }
          if (last) {
            await close();
            controller.close();
            return;
          }
          await Bun.sleep(FOLLOW_POLL_MS);
        }
      } catch (err) {
        await close();
        controller.error(err);
      }
    },
    cancel: close,
  });
}
