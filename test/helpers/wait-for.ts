/** A value that passes an `if`. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/**
 * Polls `check` until it returns a truthy value (which it resolves with), or
 * fails after `timeoutMs` naming `what` and the last error `check` threw. The
 * one wait-for-condition helper of the suite (STYLE.md, guideline 9).
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<Truthy<Awaited<T>>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as Truthy<Awaited<T>>;
    } catch (err) {
      lastError = err;
    }
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}
