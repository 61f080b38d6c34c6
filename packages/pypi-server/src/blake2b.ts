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

// The message block, shared by every hasher: compression is synchronous, so it is never in use twice.
const m = new Int32Array(32);

// The compression function F of RFC 7693 §3.2, the sixteen 64-bit words of the work vector
// in 32 local int32 variables (low and high halves): about five times faster than working on
// a typed array, which matters when a listing hashes thousands of files. Generated, hence long.
function compress(h: Uint32Array, block: Uint8Array, offset: number, t0: number, last: boolean): void {
  for (let i = 0; i < 32; i++) {
    const o = offset + 4 * i;
    m[i] = block[o]! | (block[o + 1]! << 8) | (block[o + 2]! << 16) | (block[o + 3]! << 24);
  }
  let v0l = h[0]! | 0;
  let v0h = h[1]! | 0;
  let v1l = h[2]! | 0;
  let v1h = h[3]! | 0;
  let v2l = h[4]! | 0;
  let v2h = h[5]! | 0;
  let v3l = h[6]! | 0;
  let v3h = h[7]! | 0;
  let v4l = h[8]! | 0;
  let v4h = h[9]! | 0;
  let v5l = h[10]! | 0;
  let v5h = h[11]! | 0;
  let v6l = h[12]! | 0;
  let v6h = h[13]! | 0;
  let v7l = h[14]! | 0;
  let v7h = h[15]! | 0;
  let v8l = IV32[0]! | 0;
  let v8h = IV32[1]! | 0;
  let v9l = IV32[2]! | 0;
  let v9h = IV32[3]! | 0;
  let v10l = IV32[4]! | 0;
  let v10h = IV32[5]! | 0;
  let v11l = IV32[6]! | 0;
  let v11h = IV32[7]! | 0;
  let v12l = IV32[8]! | 0;
  let v12h = IV32[9]! | 0;
  let v13l = IV32[10]! | 0;
  let v13h = IV32[11]! | 0;
  let v14l = IV32[12]! | 0;
  let v14h = IV32[13]! | 0;
  let v15l = IV32[14]! | 0;
  let v15h = IV32[15]! | 0;
  v12l ^= t0 | 0;
  v12h ^= Math.floor(t0 / 0x100000000) | 0;
  if (last) {
    v14l = ~v14l;
    v14h = ~v14h;
  }
  let t = 0;
  let u = 0;
  let x = 0;
  for (let r = 0; r < 12; r++) {
    const s = r * 16;
    // G(0, 4, 8, 12)
    x = SIGMA82[s + 0]!;
    t = (v0l + v4l) | 0;
    v0h = (v0h + v4h + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = (v0l + m[x]!) | 0;
    v0h = (v0h + m[x + 1]! + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = v12l ^ v0l;
    v12l = v12h ^ v0h;
    v12h = t;
    t = (v8l + v12l) | 0;
    v8h = (v8h + v12h + (t >>> 0 < v8l >>> 0 ? 1 : 0)) | 0;
    v8l = t;
    t = v4l ^ v8l;
    u = v4h ^ v8h;
    v4l = (t >>> 24) | (u << 8);
    v4h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 1]!;
    t = (v0l + v4l) | 0;
    v0h = (v0h + v4h + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = (v0l + m[x]!) | 0;
    v0h = (v0h + m[x + 1]! + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = v12l ^ v0l;
    u = v12h ^ v0h;
    v12l = (t >>> 16) | (u << 16);
    v12h = (u >>> 16) | (t << 16);
    t = (v8l + v12l) | 0;
    v8h = (v8h + v12h + (t >>> 0 < v8l >>> 0 ? 1 : 0)) | 0;
    v8l = t;
    t = v4l ^ v8l;
    u = v4h ^ v8h;
    v4l = (u >>> 31) | (t << 1);
    v4h = (t >>> 31) | (u << 1);
    // G(1, 5, 9, 13)
    x = SIGMA82[s + 2]!;
    t = (v1l + v5l) | 0;
    v1h = (v1h + v5h + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = (v1l + m[x]!) | 0;
    v1h = (v1h + m[x + 1]! + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = v13l ^ v1l;
    v13l = v13h ^ v1h;
    v13h = t;
    t = (v9l + v13l) | 0;
    v9h = (v9h + v13h + (t >>> 0 < v9l >>> 0 ? 1 : 0)) | 0;
    v9l = t;
    t = v5l ^ v9l;
    u = v5h ^ v9h;
    v5l = (t >>> 24) | (u << 8);
    v5h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 3]!;
    t = (v1l + v5l) | 0;
    v1h = (v1h + v5h + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = (v1l + m[x]!) | 0;
    v1h = (v1h + m[x + 1]! + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = v13l ^ v1l;
    u = v13h ^ v1h;
    v13l = (t >>> 16) | (u << 16);
    v13h = (u >>> 16) | (t << 16);
    t = (v9l + v13l) | 0;
    v9h = (v9h + v13h + (t >>> 0 < v9l >>> 0 ? 1 : 0)) | 0;
    v9l = t;
    t = v5l ^ v9l;
    u = v5h ^ v9h;
    v5l = (u >>> 31) | (t << 1);
    v5h = (t >>> 31) | (u << 1);
    // G(2, 6, 10, 14)
    x = SIGMA82[s + 4]!;
    t = (v2l + v6l) | 0;
    v2h = (v2h + v6h + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = (v2l + m[x]!) | 0;
    v2h = (v2h + m[x + 1]! + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = v14l ^ v2l;
    v14l = v14h ^ v2h;
    v14h = t;
    t = (v10l + v14l) | 0;
    v10h = (v10h + v14h + (t >>> 0 < v10l >>> 0 ? 1 : 0)) | 0;
    v10l = t;
    t = v6l ^ v10l;
    u = v6h ^ v10h;
    v6l = (t >>> 24) | (u << 8);
    v6h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 5]!;
    t = (v2l + v6l) | 0;
    v2h = (v2h + v6h + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = (v2l + m[x]!) | 0;
    v2h = (v2h + m[x + 1]! + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = v14l ^ v2l;
    u = v14h ^ v2h;
    v14l = (t >>> 16) | (u << 16);
    v14h = (u >>> 16) | (t << 16);
    t = (v10l + v14l) | 0;
    v10h = (v10h + v14h + (t >>> 0 < v10l >>> 0 ? 1 : 0)) | 0;
    v10l = t;
    t = v6l ^ v10l;
    u = v6h ^ v10h;
    v6l = (u >>> 31) | (t << 1);
    v6h = (t >>> 31) | (u << 1);
    // G(3, 7, 11, 15)
    x = SIGMA82[s + 6]!;
    t = (v3l + v7l) | 0;
    v3h = (v3h + v7h + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = (v3l + m[x]!) | 0;
    v3h = (v3h + m[x + 1]! + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = v15l ^ v3l;
    v15l = v15h ^ v3h;
    v15h = t;
    t = (v11l + v15l) | 0;
    v11h = (v11h + v15h + (t >>> 0 < v11l >>> 0 ? 1 : 0)) | 0;
    v11l = t;
    t = v7l ^ v11l;
    u = v7h ^ v11h;
    v7l = (t >>> 24) | (u << 8);
    v7h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 7]!;
    t = (v3l + v7l) | 0;
    v3h = (v3h + v7h + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = (v3l + m[x]!) | 0;
    v3h = (v3h + m[x + 1]! + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = v15l ^ v3l;
    u = v15h ^ v3h;
    v15l = (t >>> 16) | (u << 16);
    v15h = (u >>> 16) | (t << 16);
    t = (v11l + v15l) | 0;
    v11h = (v11h + v15h + (t >>> 0 < v11l >>> 0 ? 1 : 0)) | 0;
    v11l = t;
    t = v7l ^ v11l;
    u = v7h ^ v11h;
    v7l = (u >>> 31) | (t << 1);
    v7h = (t >>> 31) | (u << 1);
    // G(0, 5, 10, 15)
    x = SIGMA82[s + 8]!;
    t = (v0l + v5l) | 0;
    v0h = (v0h + v5h + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = (v0l + m[x]!) | 0;
    v0h = (v0h + m[x + 1]! + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = v15l ^ v0l;
    v15l = v15h ^ v0h;
    v15h = t;
    t = (v10l + v15l) | 0;
    v10h = (v10h + v15h + (t >>> 0 < v10l >>> 0 ? 1 : 0)) | 0;
    v10l = t;
    t = v5l ^ v10l;
    u = v5h ^ v10h;
    v5l = (t >>> 24) | (u << 8);
    v5h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 9]!;
    t = (v0l + v5l) | 0;
    v0h = (v0h + v5h + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = (v0l + m[x]!) | 0;
    v0h = (v0h + m[x + 1]! + (t >>> 0 < v0l >>> 0 ? 1 : 0)) | 0;
    v0l = t;
    t = v15l ^ v0l;
    u = v15h ^ v0h;
    v15l = (t >>> 16) | (u << 16);
    v15h = (u >>> 16) | (t << 16);
    t = (v10l + v15l) | 0;
    v10h = (v10h + v15h + (t >>> 0 < v10l >>> 0 ? 1 : 0)) | 0;
    v10l = t;
    t = v5l ^ v10l;
    u = v5h ^ v10h;
    v5l = (u >>> 31) | (t << 1);
    v5h = (t >>> 31) | (u << 1);
    // G(1, 6, 11, 12)
    x = SIGMA82[s + 10]!;
    t = (v1l + v6l) | 0;
    v1h = (v1h + v6h + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = (v1l + m[x]!) | 0;
    v1h = (v1h + m[x + 1]! + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = v12l ^ v1l;
    v12l = v12h ^ v1h;
    v12h = t;
    t = (v11l + v12l) | 0;
    v11h = (v11h + v12h + (t >>> 0 < v11l >>> 0 ? 1 : 0)) | 0;
    v11l = t;
    t = v6l ^ v11l;
    u = v6h ^ v11h;
    v6l = (t >>> 24) | (u << 8);
    v6h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 11]!;
    t = (v1l + v6l) | 0;
    v1h = (v1h + v6h + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = (v1l + m[x]!) | 0;
    v1h = (v1h + m[x + 1]! + (t >>> 0 < v1l >>> 0 ? 1 : 0)) | 0;
    v1l = t;
    t = v12l ^ v1l;
    u = v12h ^ v1h;
    v12l = (t >>> 16) | (u << 16);
    v12h = (u >>> 16) | (t << 16);
    t = (v11l + v12l) | 0;
    v11h = (v11h + v12h + (t >>> 0 < v11l >>> 0 ? 1 : 0)) | 0;
    v11l = t;
    t = v6l ^ v11l;
    u = v6h ^ v11h;
    v6l = (u >>> 31) | (t << 1);
    v6h = (t >>> 31) | (u << 1);
    // G(2, 7, 8, 13)
    x = SIGMA82[s + 12]!;
    t = (v2l + v7l) | 0;
    v2h = (v2h + v7h + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = (v2l + m[x]!) | 0;
    v2h = (v2h + m[x + 1]! + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = v13l ^ v2l;
    v13l = v13h ^ v2h;
    v13h = t;
    t = (v8l + v13l) | 0;
    v8h = (v8h + v13h + (t >>> 0 < v8l >>> 0 ? 1 : 0)) | 0;
    v8l = t;
    t = v7l ^ v8l;
    u = v7h ^ v8h;
    v7l = (t >>> 24) | (u << 8);
    v7h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 13]!;
    t = (v2l + v7l) | 0;
    v2h = (v2h + v7h + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = (v2l + m[x]!) | 0;
    v2h = (v2h + m[x + 1]! + (t >>> 0 < v2l >>> 0 ? 1 : 0)) | 0;
    v2l = t;
    t = v13l ^ v2l;
    u = v13h ^ v2h;
    v13l = (t >>> 16) | (u << 16);
    v13h = (u >>> 16) | (t << 16);
    t = (v8l + v13l) | 0;
    v8h = (v8h + v13h + (t >>> 0 < v8l >>> 0 ? 1 : 0)) | 0;
    v8l = t;
    t = v7l ^ v8l;
    u = v7h ^ v8h;
    v7l = (u >>> 31) | (t << 1);
    v7h = (t >>> 31) | (u << 1);
    // G(3, 4, 9, 14)
    x = SIGMA82[s + 14]!;
    t = (v3l + v4l) | 0;
    v3h = (v3h + v4h + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = (v3l + m[x]!) | 0;
    v3h = (v3h + m[x + 1]! + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = v14l ^ v3l;
    v14l = v14h ^ v3h;
    v14h = t;
    t = (v9l + v14l) | 0;
    v9h = (v9h + v14h + (t >>> 0 < v9l >>> 0 ? 1 : 0)) | 0;
    v9l = t;
    t = v4l ^ v9l;
    u = v4h ^ v9h;
    v4l = (t >>> 24) | (u << 8);
    v4h = (u >>> 24) | (t << 8);
    x = SIGMA82[s + 15]!;
    t = (v3l + v4l) | 0;
    v3h = (v3h + v4h + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = (v3l + m[x]!) | 0;
    v3h = (v3h + m[x + 1]! + (t >>> 0 < v3l >>> 0 ? 1 : 0)) | 0;
    v3l = t;
    t = v14l ^ v3l;
    u = v14h ^ v3h;
    v14l = (t >>> 16) | (u << 16);
    v14h = (u >>> 16) | (t << 16);
    t = (v9l + v14l) | 0;
    v9h = (v9h + v14h + (t >>> 0 < v9l >>> 0 ? 1 : 0)) | 0;
    v9l = t;
    t = v4l ^ v9l;
    u = v4h ^ v9h;
    v4l = (u >>> 31) | (t << 1);
    v4h = (t >>> 31) | (u << 1);
  }
  h[0] = h[0]! ^ v0l ^ v8l;
  h[1] = h[1]! ^ v0h ^ v8h;
  h[2] = h[2]! ^ v1l ^ v9l;
  h[3] = h[3]! ^ v1h ^ v9h;
  h[4] = h[4]! ^ v2l ^ v10l;
  h[5] = h[5]! ^ v2h ^ v10h;
  h[6] = h[6]! ^ v3l ^ v11l;
  h[7] = h[7]! ^ v3h ^ v11h;
  h[8] = h[8]! ^ v4l ^ v12l;
  h[9] = h[9]! ^ v4h ^ v12h;
  h[10] = h[10]! ^ v5l ^ v13l;
  h[11] = h[11]! ^ v5h ^ v13h;
  h[12] = h[12]! ^ v6l ^ v14l;
  h[13] = h[13]! ^ v6h ^ v14h;
  h[14] = h[14]! ^ v7l ^ v15l;
  h[15] = h[15]! ^ v7h ^ v15h;
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
