import { type FileHandle, open } from 'node:fs/promises';
import { archiveError, internalError } from '@pypi-graph/core';

/**
 * Bytes of a file by position: a local file, a buffer, or (in packages/extractor) HTTP range
 * reads. The zip reader asks only for the ranges it needs, so a remote wheel is never read whole.
 */
export interface RandomAccess {
  /** Size of the whole file in bytes. */
  readonly size: number;
  /**
   * Exactly the bytes `start … endInclusive` (`0 ≤ start ≤ endInclusive < size`); throws a
   * CrawlError when they cannot be had.
   */
  read(start: number, endInclusive: number): Promise<Buffer>;
}

/** A RandomAccess that owns a resource (an open file) and must be closed. */
export interface ClosableRandomAccess extends RandomAccess {
  close(): Promise<void>;
}

/** Throws unless `start … endInclusive` is a non-empty range inside a file of `size` bytes. */
export function checkRange(size: number, start: number, endInclusive: number): void {
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(endInclusive) ||
    start < 0 ||
    endInclusive < start ||
    endInclusive >= size
  ) {
    throw internalError(`read ${start}-${endInclusive} outside a file of ${size} bytes`);
  }
}

/** RandomAccess over bytes already in memory (tests, small files). */
export function bufferRandomAccess(data: Buffer): RandomAccess {
  return {
    size: data.length,
    async read(start, endInclusive) {
      checkRange(data.length, start, endInclusive);
      return data.subarray(start, endInclusive + 1);
    },
  };
}

/** RandomAccess over a local file, by positional reads; close it when done. */
export async function openFileRandomAccess(path: string): Promise<ClosableRandomAccess> {
  const fh: FileHandle = await open(path, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (err) {
    await fh.close();
    throw err;
  }
  return {
    size,
    async read(start, endInclusive) {
      checkRange(size, start, endInclusive);
      const length = endInclusive - start + 1;
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, start + done);
        if (bytesRead === 0) {
          throw archiveError('archive-corrupt', `${path} ended at ${start + done} bytes, expected ${size}`);
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}
