/** Number formats shared by the report, the assessment and the charts. */

/** 0.0123 → "1.2%". */
export const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
/** 45.923 → "45.92 MiB/s". */
export const mibps = (value: number) => `${value.toFixed(2)} MiB/s`;
/** 16958.4 → "16958 IOPS". */
export const iops = (value: number) => `${Math.round(value)} IOPS`;
/** 9.234 → "9.23 s"; under a second with three decimals. */
export const seconds = (value: number) => (value < 1 ? `${value.toFixed(3)} s` : `${value.toFixed(2)} s`);
/** 4.7412 → "4.74". */
export const rate = (value: number) => value.toFixed(2);
/** 268435456 → "256 MiB". */
export const sizeMiB = (bytes: number) => `${+(bytes / (1024 * 1024)).toFixed(2)} MiB`;
