// BLAKE2b with a 256-bit digest, which PyPI uses for `digests.blake2b_256` and for the
// storage path of every file (`/packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`).
// Node's crypto only offers blake2b512, and BLAKE2b-256 is not a truncation of it (the
// digest length is part of the initial state), so this is RFC 7693 in 32-bit halves.
// https://www.rfc-editor.org/rfc/rfc7693

const IV32 = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a, 0xade682d1,
  0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

const SIGMA8 = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4, 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13, 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11, 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5, 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
];
// Indexes into the message as pairs of 32-bit words.
const SIGMA82 = new Uint8Array(SIGMA8.map((x) => x * 2));

// Work arrays shared by every hasher: compression is synchronous, so they are never in use twice.
const v = new Uint32Array(32);
const m = new Uint32Array(32);

// v[a] += v[b] on 64-bit words stored as (low, high) pairs.
function add64(a: number, b: number): void {
  const lo = v[a]! + v[b]!;
  let hi = v[a + 1]! + v[b + 1]!;
  if (lo >= 0x100000000) hi++;
  v[a] = lo;
  v[a + 1] = hi;
}

// v[a] += (lo0, hi0)
function add64Word(a: number, lo0: number, hi0: number): void {
  const lo = v[a]! + lo0;
  let hi = v[a + 1]! + hi0;
  if (lo >= 0x100000000) hi++;
  v[a] = lo;
  v[a + 1] = hi;
}

// The mixing function G of RFC 7693 §3.1, rotations 32, 24, 16, 63.
function mix(a: number, b: number, c: number, d: number, ix: number, iy: number): void {
  add64(a, b);
  add64Word(a, m[ix]!, m[ix + 1]!);
  let x0 = v[d]! ^ v[a]!;
  let x1 = v[d + 1]! ^ v[a + 1]!;
  v[d] = x1;
  v[d + 1] = x0;
  add64(c, d);
  x0 = v[b]! ^ v[c]!;
  x1 = v[b + 1]! ^ v[c + 1]!;
  v[b] = (x0 >>> 24) ^ (x1 << 8);
  v[b + 1] = (x1 >>> 24) ^ (x0 << 8);
  add64(a, b);
  add64Word(a, m[iy]!, m[iy + 1]!);
  x0 = v[d]! ^ v[a]!;
  x1 = v[d + 1]! ^ v[a + 1]!;
  v[d] = (x0 >>> 16) ^ (x1 << 16);
  v[d + 1] = (x1 >>> 16) ^ (x0 << 16);
  add64(c, d);
  x0 = v[b]! ^ v[c]!;
  x1 = v[b + 1]! ^ v[c + 1]!;
  v[b] = (x1 >>> 31) ^ (x0 << 1);
  v[b + 1] = (x0 >>> 31) ^ (x1 << 1);
}

function compress(h: Uint32Array, block: Uint8Array, offset: number, t: number, last: boolean): void {
  for (let i = 0; i < 16; i++) {
    v[i] = h[i]!;
    v[i + 16] = IV32[i]!;
  }
  v[24] = v[24]! ^ (t >>> 0);
  v[25] = v[25]! ^ Math.floor(t / 0x100000000);
  if (last) {
    v[28] = ~v[28]!;
    v[29] = ~v[29]!;
  }
  for (let i = 0; i < 32; i++) {
    const o = offset + 4 * i;
    m[i] = block[o]! | (block[o + 1]! << 8) | (block[o + 2]! << 16) | (block[o + 3]! << 24);
  }
  for (let r = 0; r < 12; r++) {
    const s = r * 16;
    mix(0, 8, 16, 24, SIGMA82[s]!, SIGMA82[s + 1]!);
    mix(2, 10, 18, 26, SIGMA82[s + 2]!, SIGMA82[s + 3]!);
    mix(4, 12, 20, 28, SIGMA82[s + 4]!, SIGMA82[s + 5]!);
    mix(6, 14, 22, 30, SIGMA82[s + 6]!, SIGMA82[s + 7]!);
    mix(0, 10, 20, 30, SIGMA82[s + 8]!, SIGMA82[s + 9]!);
    mix(2, 12, 22, 24, SIGMA82[s + 10]!, SIGMA82[s + 11]!);
    mix(4, 14, 16, 26, SIGMA82[s + 12]!, SIGMA82[s + 13]!);
    mix(6, 8, 18, 28, SIGMA82[s + 14]!, SIGMA82[s + 15]!);
  }
  for (let i = 0; i < 16; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 16]!;
}

/** Incremental BLAKE2b (unkeyed) with a digest of 1…64 bytes. */
export class Blake2b {
  private readonly h = new Uint32Array(16);
  private readonly b = new Uint8Array(128);
  private c = 0; // bytes waiting in b
  private t = 0; // bytes counted so far (exact up to 2^53)

  constructor(private readonly outLength = 32) {
    if (outLength < 1 || outLength > 64) throw new RangeError('BLAKE2b digest length must be 1…64 bytes');
    this.h.set(IV32);
    this.h[0] = this.h[0]! ^ 0x01010000 ^ outLength;
  }

  update(data: Uint8Array): this {
    let i = 0;
    // The last block must be compressed with the final flag, so a full buffer waits for more input.
    while (i < data.length) {
      if (this.c === 128) {
        this.t += 128;
        compress(this.h, this.b, 0, this.t, false);
        this.c = 0;
      }
      if (this.c === 0) {
        // Whole blocks straight from the input, keeping at least one byte back for the final block.
        while (data.length - i > 128) {
          this.t += 128;
          compress(this.h, data, i, this.t, false);
          i += 128;
        }
      }
      const take = Math.min(128 - this.c, data.length - i);
      this.b.set(data.subarray(i, i + take), this.c);
      this.c += take;
      i += take;
    }
    return this;
  }

  digest(): Buffer {
    this.t += this.c;
    this.b.fill(0, this.c);
    compress(this.h, this.b, 0, this.t, true);
    const out = Buffer.alloc(this.outLength);
    for (let i = 0; i < this.outLength; i++) out[i] = (this.h[i >> 2]! >>> (8 * (i & 3))) & 0xff;
    return out;
  }
}

/** Hex BLAKE2b-256 of `data`, as in PyPI's `digests.blake2b_256`. */
export function blake2b256Hex(data: Uint8Array): string {
  return new Blake2b(32).update(data).digest().toString('hex');
}
