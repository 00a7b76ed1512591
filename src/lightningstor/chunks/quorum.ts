/** Resolves once `needed` of the promises have; rejects once that can no longer happen, with `error(reasons)` (one per promise). */
export function quorum(promises: Promise<unknown>[], needed: number, error: (reasons: string[]) => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    let failed = 0;
    const reasons: string[] = new Array(promises.length).fill("pending");
    for (const [i, promise] of promises.entries()) {
      promise.then(
        () => {
          reasons[i] = "stored";
          if (++done === needed) resolve();
        },
        (err: unknown) => {
          reasons[i] = err instanceof Error ? err.message : String(err);
          if (++failed === promises.length - needed + 1) reject(error(reasons));
        },
      );
    }
  });
}
