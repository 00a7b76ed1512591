/**
 * Where a worker's code is, given its path under src/. From source it is that
 * file; in the compiled binary (built with the worker as an extra entry point,
 * see package.json) it is at the same path inside the embedded file system.
 */
export function workerEntry(pathUnderSrc: string): string {
  const compiled = import.meta.url.includes("$bunfs");
  return compiled ? `./${pathUnderSrc}` : new URL(`../${pathUnderSrc}`, import.meta.url).href;
}
