/** How long a node that failed a call is passed over, by default. */
const UNHEALTHY_MS = 10_000;

/**
 * Which storage nodes failed a call recently (no answer within the deadline,
 * a broken stream, a refused connection). Reads try them last and writes skip
 * them while enough others are healthy, until `unhealthyMs` after the last
 * failure; a call that succeeds clears the mark. Nothing here is a timer.
 */
export class NodeHealth {
  private readonly until = new Map<string, number>();

  constructor(private readonly unhealthyMs = UNHEALTHY_MS) {}

  failed(node: string): void {
    this.until.set(node, Date.now() + this.unhealthyMs);
  }

  succeeded(node: string): void {
    this.until.delete(node);
  }

  healthy(node: string): boolean {
    const until = this.until.get(node);
    if (until === undefined) return true;
    if (until > Date.now()) return false;
    this.until.delete(node);
    return true;
  }

  /** `nodes` in the same order, healthy ones first. */
  healthyFirst(nodes: readonly string[]): string[] {
    return [...nodes.filter((node) => this.healthy(node)), ...nodes.filter((node) => !this.healthy(node))];
  }

  /** Nodes currently passed over (for /metrics). */
  unhealthy(nodes: readonly string[]): string[] {
    return nodes.filter((node) => !this.healthy(node));
  }
}
