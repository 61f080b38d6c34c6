/**
 * The snapshot tarball as one gzip member made of independently compressed pieces (as
 * `pigz --independent` does): each piece is raw deflate at {@link GZIP_LEVEL} ending in a sync
 * flush (byte-aligned, not final), then one empty final block and the gzip trailer, whose CRC is
 * combined from the pieces' CRCs. Any gunzip, Python's tarfile and Nix's libarchive read it as
 * an ordinary gzip stream.
 *
 * Why pieces: they compress on all cores while the tree is still being written (worker threads,
 * deflate-worker.mjs), and a piece whose bytes a previous snapshot already
 * compressed is copied from that tarball instead of compressed again, so a day's snapshot
 * compresses what changed. The bytes stay a function of the tree alone: piece boundaries depend
 * only on the content (see publish.ts), and zlib with the same level gives the same output.
 */

import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { invariantError, snapshotError } from '@pypi-graph/core';
import { crc32Combine } from './crc32';
import { GZIP_HEADER, GZIP_LEVEL } from './tarball';

const OPTIONS = {
  level: GZIP_LEVEL,
  memLevel: 8,
  strategy: constants.Z_DEFAULT_STRATEGY,
  finishFlush: constants.Z_SYNC_FLUSH,
};
/** An empty fixed-Huffman block with BFINAL set: ends the deflate stream after the last piece. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** Where a piece's compressed bytes are. */
export interface Piece {
  /** sha256 hex of the uncompressed bytes: what makes a piece reusable. */
  sha256: string;
  crc: number;
  /** Uncompressed length. */
  length: number;
  /** Compressed length. */
  compLength: number;
  /** Offset of the compressed bytes in `file`. */
  compOffset: number;
  /** `spool`: this run's piece file; `previous`: the previous snapshot's tarball. */
  file: 'spool' | 'previous';
}

/** Compressed bytes of a piece, sync-flushed (for pieces compressed on the spot). */
export function compressSync(data: Buffer): Buffer {
  return deflateRawSync(data, OPTIONS);
}

const DEFLATE_WORKER = new URL('./deflate-worker.mjs', import.meta.url);

/**
 * Worker threads that deflate pieces with {@link OPTIONS} (the bytes {@link compressSync} gives).
 * zlib's asynchronous call costs the main thread a stream and its callbacks per piece, about as
 * much as the compression itself for a 50 KB piece; a worker's synchronous call costs it a copy.
 * A worker holds the process open only while it has work; {@link close} ends them.
 */
export class DeflatePool {
  private readonly workers: Array<{ worker: Worker; pending: number }> = [];
  private readonly waiting = new Map<
    number,
    { resolve: (b: Buffer) => void; reject: (e: unknown) => void }
  >();
  private nextId = 0;
  /** Set when a worker failed or the pool was closed: every later call fails with it. */
  private broken: unknown;

  constructor(size = Math.max(1, Math.min(4, availableParallelism()))) {
    for (let i = 0; i < size; i++) {
      // execArgv []: the worker is plain JavaScript and needs none of the main thread's loaders.
      const worker = new Worker(DEFLATE_WORKER, { execArgv: [] });
      const slot = { worker, pending: 0 };
      worker.unref();
      worker.on('message', (m: { id: number; out?: Uint8Array; error?: string }) => {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (--slot.pending === 0) worker.unref();
        if (!w) return;
        if (m.out) w.resolve(Buffer.from(m.out.buffer, m.out.byteOffset, m.out.byteLength));
        else w.reject(snapshotError('snapshot-failed', `compressing a tarball piece: ${m.error}`));
      });
      worker.on('error', (err) => this.failAll(err));
      worker.on('exit', (code) =>
        this.failAll(snapshotError('snapshot-failed', `a compression worker exited (code ${code})`)),
      );
      this.workers.push(slot);
    }
  }

  /** `data` deflated (raw, sync-flushed) by the least busy worker. */
  deflate(data: Buffer): Promise<Buffer> {
    if (this.broken) return Promise.reject(this.broken);
    const slot = this.workers.reduce((a, b) => (b.pending < a.pending ? b : a));
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (slot.pending++ === 0) slot.worker.ref();
      // A view is cloned with its whole ArrayBuffer: a piece cut from a previous bucket file
      // (16 MB at PyPI's size) or from a large entry would copy all of it per message. The
      // piece's own bytes are copied into a buffer of their own and that buffer is moved.
      const own = new Uint8Array(data.length);
      own.set(data);
      slot.worker.postMessage({ id, data: own, options: OPTIONS }, [own.buffer]);
    });
  }

  private failAll(err: unknown): void {
    this.broken ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failAll(snapshotError('snapshot-failed', 'the compression workers were closed'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/**
 * Compresses pieces in parallel into a spool file, at most `maxInFlight` uncompressed bytes at
 * a time (memory stays bounded however fast the tree is written).
 */
export class PieceCompressor {
  private spoolEnd = 0;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Set<Promise<void>>();
  private failure: unknown;
  /** Uncompressed bytes compressed by this run / copied from the previous tarball. */
  compressedBytes = 0;
  reusedBytes = 0;

  /** `pool`: the workers that compress; the caller closes it. */
  constructor(
    private readonly spool: FileHandle,
    private readonly pool: DeflatePool,
    private readonly maxInFlight = 32 << 20,
  ) {}

  /** Of {@link reusedBytes}, those taken by their place in the file, without hashing them. */
  reusedInPlaceBytes = 0;

  /** A piece of the previous tarball taken as it is (the caller knows its bytes recur). */
  reused(known: Piece): Piece {
    this.reusedBytes += known.length;
    this.reusedInPlaceBytes += known.length;
    return { ...known, file: 'previous' };
  }

  /**
   * A piece for `data`: the previous snapshot's when `reuse` knows its hash, else compressed
   * (asynchronously: the returned object is complete once {@link drain} resolved). `crc`: the
   * CRC-32 of `data`, when the caller has it already.
   */
  async add(data: Buffer, reuse?: ReadonlyMap<string, Piece>, crc?: number): Promise<Piece> {
    if (this.failure) throw this.failure;
    // Held from here until reused or compressed: what {@link ready} bounds.
    this.inFlight += data.length;
    // Hashed here, on the main thread: WebCrypto's digest (thread pool) measured slower at
    // PyPI's size, its copy of each piece costing more than the hash.
    const sha256 = createHash('sha256').update(data).digest('hex');
    const known = reuse?.get(sha256);
    if (known && known.length === data.length) {
      this.reusedBytes += data.length;
      this.release(data.length);
      return { ...known, file: 'previous' };
    }
    const piece: Piece = {
      sha256,
      crc: crc ?? crc32(data),
      length: data.length,
      compLength: 0,
      compOffset: 0,
      file: 'spool',
    };
    this.compressedBytes += data.length;
    const job = (async () => {
      try {
        const out = await this.pool.deflate(data);
        // Offsets are taken in completion order: the spool is private, the tarball is not.
        piece.compOffset = this.spoolEnd;
        piece.compLength = out.length;
        this.spoolEnd += out.length;
        await writeAll(this.spool, out, piece.compOffset);
      } catch (err) {
        this.failure ??= err;
      } finally {
        this.release(data.length);
      }
    })();
    this.pending.add(job);
    void job.then(() => this.pending.delete(job));
    return piece;
  }

  /**
   * Resolves once fewer than `maxInFlight` bytes are held: a writer awaits it before each
   * {@link add}, so memory stays bounded however fast the tree is written.
   */
  async ready(): Promise<void> {
    while (this.inFlight >= this.maxInFlight) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(bytes: number): void {
    this.inFlight -= bytes;
    this.waiting.shift()?.();
  }

  /** Waits for every piece given so far. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    while (this.waiting.length > 0) this.waiting.shift()!();
    if (this.failure) throw this.failure;
  }
}

/** Writes all of `data` at `position` (a write may take fewer bytes than it is given). */
export async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let off = 0; off < data.length; ) {
    off += (await handle.write(data, off, data.length - off, position + off)).bytesWritten;
  }
}

async function readExactly(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  for (let off = 0; off < length; ) {
    const { bytesRead } = await handle.read(buf, off, length - off, position + off);
    if (bytesRead === 0) throw snapshotError('snapshot-failed', `short read at ${position + off}`);
    off += bytesRead;
  }
  return buf;
}

/** Writes the gzip member piece by piece; knows each piece's offset in the result. */
export class GzipAssembler {
  private crc = 0;
  private isize = 0;
  private offset = 0;
  private readonly hash = createHash('sha256');
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(
    private readonly out: FileHandle,
    private readonly sources: { spool: FileHandle; previous?: FileHandle },
  ) {}

  async start(): Promise<void> {
    await this.emit(GZIP_HEADER);
  }

  /** Appends a piece; returns it as the next snapshot will find it (in this tarball). */
  async piece(p: Piece): Promise<Piece> {
    const source = p.file === 'spool' ? this.sources.spool : this.sources.previous;
    if (!source) throw invariantError('a reused piece without the previous tarball');
    const bytes = await readExactly(source, p.compLength, p.compOffset);
    return this.compressed(bytes, p);
  }

  /** Appends bytes compressed here and now (headers, padding, small files). */
  async raw(data: Buffer): Promise<Piece> {
    const comp = compressSync(data);
    return this.compressed(comp, {
      sha256: createHash('sha256').update(data).digest('hex'),
      crc: crc32(data),
      length: data.length,
      compLength: comp.length,
      compOffset: 0,
      file: 'spool',
    });
  }

  private async compressed(bytes: Buffer, p: Piece): Promise<Piece> {
    const at = this.offset;
    await this.emit(bytes);
    this.crc = crc32Combine(this.crc, p.crc, p.length);
    this.isize = (this.isize + p.length) % 2 ** 32;
    return { ...p, compOffset: at, file: 'previous' };
  }

  private async emit(bytes: Buffer): Promise<void> {
    this.hash.update(bytes);
    this.offset += bytes.length;
    this.buffered.push(bytes);
    this.bufferedBytes += bytes.length;
    if (this.bufferedBytes >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.bufferedBytes === 0) return;
    const data = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    await writeAll(this.out, data, this.offset - data.length);
  }

  /** The final block and the trailer; returns the sha256 and size of the whole file. */
  async finish(): Promise<{ sha256: string; bytes: number }> {
    await this.emit(FINAL_BLOCK);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.isize, 4);
    await this.emit(trailer);
    await this.flush();
    await this.out.sync();
    return { sha256: this.hash.digest('hex'), bytes: this.offset };
  }
}
