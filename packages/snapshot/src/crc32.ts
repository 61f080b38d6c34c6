/**
 * crc32_combine as zlib ≥ 1.2.12 computes it (crc32.c: multmodp, x2nmodp): the CRC-32 of A‖B
 * from crc(A), crc(B) and len(B), so a gzip trailer can be computed from pieces compressed at
 * other times without reading their bytes again.
 */

const POLY = 0xedb88320; // the CRC-32 polynomial, reflected

/** a × b modulo the CRC polynomial (reflected bit order). */
function multmodp(a: number, b: number): number {
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

/** x^(2^n) modulo the polynomial, n = 0 … 31. */
const X2N = (() => {
  const table = new Uint32Array(32);
  let p = 0x40000000; // x^1
  table[0] = p;
  for (let n = 1; n < 32; n++) table[n] = p = multmodp(p, p);
  return table;
})();

/** x^(n × 2^k) modulo the polynomial. */
function x2nmodp(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multmodp(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32 of A‖B, given crc1 = crc(A), crc2 = crc(B) and len2 = len(B) in bytes. */
export function crc32Combine(crc1: number, crc2: number, len2: number): number {
  return (multmodp(x2nmodp(len2, 3), crc1 >>> 0) ^ (crc2 >>> 0)) >>> 0;
}
