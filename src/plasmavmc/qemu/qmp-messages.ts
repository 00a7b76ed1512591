/**
 * QMP wire format (QEMU's docs/interop/qmp-spec): JSON objects, one per line
 * (`\r\n` from the server). The server greets with `{"QMP": …}`, answers each
 * command with `{"return": …}` or `{"error": {"class", "desc"}}` carrying the
 * command's `id`, and sends asynchronous `{"event": …}` objects in between.
 */

/** An asynchronous event, e.g. SHUTDOWN, RESET, STOP, RESUME, BLOCK_IO_ERROR. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** When QEMU emitted it, in ms since the epoch. */
  at: number;
}

/** One message from the server, classified. */
export type QmpMessage =
  | { kind: "greeting"; version: string }
  | { kind: "return"; id: unknown; value: unknown }
  | { kind: "error"; id: unknown; errorClass: string; desc: string }
  | { kind: "event"; event: QmpEvent };

/** Splits the server's byte stream into parsed JSON objects, one per line. */
export class QmpLineDecoder {
  private buffered = "";
  private readonly decoder = new TextDecoder();

  /** Adds received bytes; returns the complete messages they finish. Throws on a line that is not JSON. */
  push(chunk: Uint8Array): QmpMessage[] {
    this.buffered += this.decoder.decode(chunk, { stream: true });
    const messages: QmpMessage[] = [];
    let newline: number;
    while ((newline = this.buffered.indexOf("\n")) >= 0) {
      const line = this.buffered.slice(0, newline).trim();
      this.buffered = this.buffered.slice(newline + 1);
      if (line !== "") messages.push(classifyQmpMessage(JSON.parse(line) as unknown));
    }
    return messages;
  }
}

/** Classifies one parsed QMP object; throws on anything the spec does not define. */
export function classifyQmpMessage(raw: unknown): QmpMessage {
  if (typeof raw !== "object" || raw === null) throw new Error(`QMP: not an object: ${JSON.stringify(raw)}`);
  const o = raw as Record<string, unknown>;
  if ("QMP" in o) {
    const qemu = ((o.QMP as { version?: { qemu?: { major?: number; minor?: number; micro?: number } } })?.version?.qemu ?? {}) as Record<string, number>;
    return { kind: "greeting", version: `${qemu.major ?? "?"}.${qemu.minor ?? "?"}.${qemu.micro ?? "?"}` };
  }
  if ("return" in o) return { kind: "return", id: o.id, value: o.return };
  if ("error" in o) {
    const error = (o.error ?? {}) as { class?: unknown; desc?: unknown };
    return { kind: "error", id: o.id, errorClass: String(error.class ?? "GenericError"), desc: String(error.desc ?? "") };
  }
  if (typeof o.event === "string") {
    const ts = (o.timestamp ?? {}) as { seconds?: number; microseconds?: number };
    const at = (ts.seconds ?? 0) * 1000 + Math.floor((ts.microseconds ?? 0) / 1000);
    return { kind: "event", event: { event: o.event, data: (o.data ?? {}) as Record<string, unknown>, at } };
  }
  throw new Error(`QMP: unknown message ${JSON.stringify(raw).slice(0, 200)}`);
}

/** A command as sent: `{"execute", "arguments"?, "id"}` and its line end. */
export function encodeQmpCommand(command: string, args: Record<string, unknown> | undefined, id: number): string {
  return JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }) + "\n";
}
