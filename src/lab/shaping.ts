/** What `--link-rate` / `--link-delay` ask of each node's link; both optional. */
export interface LinkShape {
  /** tc rate, e.g. `1gbit`, `200mbit`. */
  rate?: string;
  /** tc time, e.g. `0.2ms`; needs the kernel's sch_netem. */
  delay?: string;
}

const rateUnits: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const timeUnits: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1 };

/** Bits per second of a tc rate (`bit`, `kbit`, `mbit`, `gbit`); throws on anything else. */
export function parseRate(rate: string): number {
  const match = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(rate.trim());
  const bits = match ? Number(match[1]) * rateUnits[match[2]!.toLowerCase()]! : NaN;
  if (!(bits >= 8_000)) throw new Error(`--link-rate: expected a rate such as 1gbit, 200mbit or 500kbit (at least 8kbit), got ${rate}`);
  return bits;
}

/** Seconds of a tc time (`us`, `ms`, `s`); throws on anything else. */
export function parseDelay(delay: string): number {
  const match = /^(\d+(?:\.\d+)?)(us|ms|s)$/i.exec(delay.trim());
  const seconds = match ? Number(match[1]) * timeUnits[match[2]!.toLowerCase()]! : NaN;
  if (!(seconds >= 0 && seconds <= 10)) throw new Error(`--link-delay: expected a time such as 0.2ms, 500us or 1s, got ${delay}`);
  return seconds;
}

/**
 * tbf's arguments for `rate`. The bucket must hold at least one timer tick of traffic
 * (rate/HZ, HZ ≥ 250) or tbf cannot reach the rate; 4 ms of it, and no less than 64 KiB
 * so a full GSO segment fits. The queue holds 20 ms: enough for TCP on a sub-ms link.
 */
export function tbfArgs(rate: string): string[] {
  const burst = Math.max(64 * 1024, Math.ceil((parseRate(rate) / 8) * 0.004));
  return ["tbf", "rate", rate, "burst", String(burst), "latency", "20ms"];
}

/**
 * The `tc` commands that shape the egress of `dev` (inside `netns` when given). Shaping both
 * ends of a veth shapes both directions. With a delay, netem is the root and tbf its child
 * (the LARTC layout), so the delayed packets are also rate-limited.
 */
export function shapeCommands(dev: string, netns: string | undefined, shape: LinkShape): string[][] {
  const tc = (...args: string[]) => ["tc", ...(netns ? ["-n", netns] : []), "qdisc", "replace", "dev", dev, ...args];
  if (shape.delay && shape.rate) return [tc("root", "handle", "1:", "netem", "delay", shape.delay), tc("parent", "1:1", "handle", "10:", ...tbfArgs(shape.rate))];
  if (shape.delay) return [tc("root", "handle", "1:", "netem", "delay", shape.delay)];
  if (shape.rate) return [tc("root", "handle", "1:", ...tbfArgs(shape.rate))];
  return [];
}
