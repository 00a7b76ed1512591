/** Resolves true after `ms`, or false as soon as `signal` aborts (at once if it already has). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `task` `firstMs` from now, then `everyMs` after each run ends, until
 * `signal` aborts; resolves once stopped (a run in progress finishes first).
 * The task handles its own errors: one that throws ends the loop.
 */
export async function runPeriodically(task: () => Promise<void>, options: { firstMs: number; everyMs: number; signal: AbortSignal }): Promise<void> {
  let wait = options.firstMs;
  while (await sleepUnlessAborted(wait, options.signal)) {
    await task();
    wait = options.everyMs;
  }
}
