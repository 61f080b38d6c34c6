import { randomBytes } from 'node:crypto';
import { constants, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressSync, DeflatePool } from '../src/gzip-pieces';

/** Pieces shaped like bucket files: repetitive JSON text, a few random bytes, sizes up to 1 MB. */
function pieces(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 60; i++) {
    const text = `"pkg-${i}": {"1.0.${i}": {"27": {"install_requires": ["requests>=2.${i}"]}}},\n  `;
    const size = [0, 1, 100, 50_000, 1 << 20][i % 5]!;
    const buf = Buffer.from(text.repeat(Math.ceil(size / text.length) + 1)).subarray(0, size);
    if (size > 0 && i % 3 === 0) randomBytes(Math.min(64, size)).copy(buf, 0);
    out.push(buf);
  }
  return out;
}

describe('DeflatePool', () => {
  it('gives the bytes compressSync gives, for many pieces at once, each to its own caller', async () => {
    const pool = new DeflatePool(3);
    try {
      const input = pieces();
      const got = await Promise.all(input.map((p) => pool.deflate(p)));
      for (const [i, p] of input.entries()) {
        expect(got[i]!.equals(compressSync(p))).toBe(true);
        // sync-flushed, not final: read as the middle of a stream
        expect(inflateRawSync(got[i]!, { finishFlush: constants.Z_SYNC_FLUSH }).equals(p)).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });

  it('compresses a piece that is a view into a larger buffer as its own bytes, leaving the buffer as it was', async () => {
    // As a piece cut from a previous bucket file is: only the view's bytes are sent.
    const pool = new DeflatePool(2);
    try {
      const file = Buffer.concat(pieces());
      const before = Buffer.from(file);
      const views = [file.subarray(0, 1000), file.subarray(777, 50_000), file.subarray(file.length - 3)];
      const got = await Promise.all(views.map((v) => pool.deflate(v)));
      for (const [i, v] of views.entries()) expect(got[i]!.equals(compressSync(v))).toBe(true);
      expect(file.equals(before)).toBe(true);
      expect(file.buffer.byteLength).toBeGreaterThan(0); // not detached: the caller still owns it
    } finally {
      await pool.close();
    }
  });

  it('fails what is still waiting when closed, and what comes after, instead of leaving it pending', async () => {
    const pool = new DeflatePool(1);
    const waiting = expect(pool.deflate(Buffer.alloc(8 << 20, 'x'))).rejects.toThrow(/closed/);
    await pool.close();
    await waiting;
    // and what comes after fails at once instead of waiting for a worker that is gone
    await expect(pool.deflate(Buffer.from('x'))).rejects.toThrow(/closed/);
  });
});
