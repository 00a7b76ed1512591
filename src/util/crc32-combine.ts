/**
 * CRC32 (IEEE, reflected, as Bun.hash.crc32) arithmetic modulo its
 * polynomial, after zlib's crc32_combine (crc32.c, 1.2.12+): the CRC32 of
 * A‖B from CRC32(A), CRC32(B) and B's length, without reading the bytes again.
 * A chunk's CRC32 is thus derived from its blocks' CRC32s, one pass over the
 * data instead of two.
 */
const POLY = 0xedb88320;

/** a × b modulo the polynomial (bit 31 is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^n) modulo the polynomial, n = 0..31. */
const X2N = (() => {
  const table = new Uint32Array(32);
  let p = 0x40000000; // x^1
  for (let n = 0; n < 32; n++) {
    table[n] = p;
    p = multModP(p, p);
  }
  return table;
})();

/** The operator that appends `length` bytes: x^(8 × length) modulo the polynomial. */
export function crc32Shift(length: number): number {
  let p = 0x80000000; // x^0
  let k = 3; // bytes are 2^3 bits
  for (let n = length; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
  return p;
}

/** CRC32(A‖B) from CRC32(A), CRC32(B) and `crc32Shift(B.length)`. */
export function crc32Combine(crcA: number, crcB: number, shift: number): number {
  return (multModP(shift, crcA >>> 0) ^ crcB) >>> 0;
}

/** The CRC32 of blocks of `blockSize` bytes (the last one `size` leaves) from their CRC32s. */
export function crc32OfBlocks(crcs: ArrayLike<number>, blockSize: number, size: number): number {
  const whole = crc32Shift(blockSize);
  let crc = 0;
  for (let i = 0; i < crcs.length; i++) {
    const length = Math.min(blockSize, size - i * blockSize);
    crc = crc32Combine(crc, crcs[i]!, length === blockSize ? whole : crc32Shift(length));
  }
  return crc;
}
