/**
 * Writes one bucket file from its entries in key order, cutting it into the tarball's pieces as
 * it goes. The file is what `dumpPythonChunks` writes for the bucket's object: `{`, each entry
 * after `\n  ` (the first) or `,\n  `, then `\n}`; `{}` without entries.
 *
 * Piece boundaries depend on the content alone, so a full and an incremental snapshot cut the
 * same file the same way, and a change in one project only changes the piece it falls in: a new
 * piece starts before an entry whose key hashes to 0 modulo {@link CUT_EVERY} (about one key in
 * that many); an entry of {@link BIG_ENTRY} bytes or more is a piece of its own; and a piece
 * longer than {@link MAX_PIECE} bytes is split every MAX_PIECE bytes. Most of the bytes a day
 * changes are in big entries (projects with many releases, the ones that keep releasing): alone
 * in their pieces, and split into parts of which those before the change recur, they no longer
 * take their neighbours' bytes with them into compression (the bench's day at 10 million files:
 * 22 % of the bytes deflated again instead of 43 %, for a tarball 1.5 % larger;
 * docs/benchmarks.md).
 *
 * An incremental snapshot copies most entries from the previous bucket file. A piece whose bytes
 * are all copied, in one run, from where a piece of the previous file was is that piece: its
 * compressed bytes, CRC and sha256 are taken from the previous tarball's record without hashing
 * or compressing the bytes again (the previous file was checked against its recorded size and
 * CRC-32 when it was read, publish.ts). Any other piece is hashed and, when its bytes are not a
 * previous piece's, compressed.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { crc32Combine } from './crc32';
import { type Piece, type PieceCompressor, writeAll } from './gzip-pieces';

/** The previous snapshot's version of a bucket file: its bytes and its tarball pieces. */
export interface PreviousBucketFile {
  bytes: Buffer;
  /** Its pieces by offset in the file (a piece starts there and has `length` bytes). */
  byOffset: ReadonlyMap<number, Piece>;
}

/** Pieces of the previous tarball by the sha256 of their uncompressed bytes. */
export type PiecesBySha256 = ReadonlyMap<string, Piece>;

/** About one key in this many starts a new piece (~50 KB pieces of small entries at PyPI's size). */
export const CUT_EVERY = 48;
/** An entry this long or longer is a piece of its own (with the separator before it). */
export const BIG_ENTRY = 16 << 10;
/** Longest piece: a big entry is split so that cores share it and its unchanged start recurs. */
export const MAX_PIECE = 256 << 10;

const FIRST = Buffer.from('{\n  ');
const NEXT = Buffer.from(',\n  ');
const END = Buffer.from('\n}');
const EMPTY = Buffer.from('{}');
/** Bytes before each entry (FIRST or NEXT, as long): where entries start follows from their lengths (reuse.ts). */
export const SEPARATOR_BYTES = NEXT.length;
/** Bytes after the last entry (END), or of a file without entries (EMPTY). */
export const END_BYTES = END.length;

/**
 * Whether the key starts a piece before its entry (as a big entry does, whatever its key):
 * FNV-1a of the key's UTF-16 code units, cheap and the same on every machine.
 */
export function startsPiece(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % CUT_EVERY === 0;
}

export class BucketWriter {
  private readonly hash = createHash('sha256');
  /** CRC-32 of the file so far, combined from its pieces' CRCs. */
  private crc = 0;
  private position = 0;
  private piece: Buffer[] = [];
  private pieceBytes = 0;
  /**
   * Where the current piece's bytes are in the previous file when every byte so far was copied
   * from it in one run (-1: not so, or no bytes yet), and where its next byte would be there.
   */
  private from = -1;
  private fromNext = -1;
  private entries = 0;
  readonly pieces: Promise<Piece>[] = [];

  private constructor(
    private readonly handle: FileHandle,
    private readonly compressor: PieceCompressor,
    private readonly reuse: PiecesBySha256 | undefined,
    private readonly previous: PreviousBucketFile | undefined,
  ) {}

  /**
   * `reuse`: the previous tarball's pieces of this file by content; `previous`: the previous
   * file, whose entries {@link entry} may be told come from it.
   */
  static async create(
    path: string,
    compressor: PieceCompressor,
    reuse: PiecesBySha256 | undefined,
    previous?: PreviousBucketFile,
  ): Promise<BucketWriter> {
    return new BucketWriter(await open(path, 'wx', 0o644), compressor, reuse, previous);
  }

  /** Appends the entry `"key": value` from its bytes (rendered now, not copied). */
  entry(key: string, text: Buffer): void | Promise<void> {
    return this.place(key, text.length, text, 0);
  }

  private addEntry(text: Buffer): void {
    this.endRun();
    this.append(this.entries++ === 0 ? FIRST : NEXT, -1);
    this.append(text, -1);
  }

  /**
   * Appends the entry `"key": value` whose `length` bytes are at `from` in the previous file.
   * Consecutive entries copied from consecutive places are gathered into one range of the
   * previous file (a view, not a copy), handed to the piece when something else comes.
   */
  copied(key: string, from: number, length: number): void | Promise<void> {
    return this.place(key, length, undefined, from);
  }

  /**
   * The cut rule, the same for rendered and copied entries (a full and an incremental snapshot
   * must cut alike): a piece closes before the entry when the key starts one or the entry is
   * big, and after a big entry. Synchronous unless a piece closes: about twelve million entries
   * at PyPI's size, and a promise for each cost the main thread. `text`: the rendered bytes;
   * without it the entry is `length` bytes at `from` in the previous file.
   */
  private place(key: string, length: number, text: Buffer | undefined, from: number): void | Promise<void> {
    const big = length >= BIG_ENTRY;
    if (this.pieceStarted() && (big || startsPiece(key)))
      return this.closePiece().then(() => this.put(length, text, from, big));
    return this.put(length, text, from, big);
  }

  private put(length: number, text: Buffer | undefined, from: number, big: boolean): void | Promise<void> {
    if (text) this.addEntry(text);
    else this.addCopied(from, length);
    if (big) return this.closePiece();
  }

  private addCopied(from: number, length: number): void {
    const first = this.entries++ === 0;
    // Between two entries of a bucket file there is always NEXT: an entry that follows the
    // run's last one there continues the run.
    if (!first && this.runEnd > this.runStart && this.runEnd + NEXT.length === from) {
      this.runEnd = from + length;
      return;
    }
    this.endRun();
    const sep = first ? FIRST : NEXT;
    const prev = this.previous!.bytes;
    if (from >= sep.length && prev.compare(sep, 0, sep.length, from - sep.length, from) === 0) {
      this.runStart = from - sep.length;
    } else {
      this.append(sep, -1);
      this.runStart = from;
    }
    this.runEnd = from + length;
  }

  /** Whether the current piece has bytes (added, or in the run not yet added). */
  private pieceStarted(): boolean {
    return this.pieceBytes > 0 || this.runEnd > this.runStart;
  }

  /** Bytes `[runStart, runEnd)` of the previous file not yet added to the piece. */
  private runStart = 0;
  private runEnd = 0;

  private endRun(): void {
    if (this.runEnd === this.runStart) return;
    const view = this.previous!.bytes.subarray(this.runStart, this.runEnd);
    const from = this.runStart;
    this.runStart = this.runEnd = 0;
    this.append(view, from, true);
  }

  /**
   * Adds bytes to the piece, following whether the piece is still one run of the previous file:
   * `from` is where these bytes are there (-1: they are not). Entries must be views of the
   * previous file's buffer at `from` (checked by identity, not by content); separators and the
   * end are compared byte for byte.
   */
  private append(bytes: Buffer, from: number, view = false): void {
    const prev = this.previous?.bytes;
    const same =
      prev !== undefined &&
      from >= 0 &&
      from + bytes.length <= prev.length &&
      (view
        ? bytes.buffer === prev.buffer && bytes.byteOffset === prev.byteOffset + from
        : prev.compare(bytes, 0, bytes.length, from, from + bytes.length) === 0);
    const continues = this.pieceBytes === 0 || (this.from >= 0 && this.fromNext === from);
    if (same && continues) {
      if (this.pieceBytes === 0) this.from = from;
      this.fromNext = from + bytes.length;
    } else {
      this.from = -1;
    }
    this.piece.push(bytes);
    this.pieceBytes += bytes.length;
    this.position += bytes.length;
  }

  private async closePiece(): Promise<void> {
    this.endRun();
    const from = this.pieceBytes > 0 ? this.from : -1;
    const data =
      from >= 0 && this.previous
        ? this.previous.bytes.subarray(from, from + this.pieceBytes)
        : Buffer.concat(this.piece, this.pieceBytes);
    this.piece = [];
    this.pieceBytes = 0;
    this.from = -1;
    this.hash.update(data);
    // Written a megabyte at a time: one write per ~50 KB piece cost seconds at PyPI's size.
    this.unwritten.push(data);
    this.unwrittenBytes += data.length;
    if (this.unwrittenBytes >= 1 << 20) await this.flush();
    for (let off = 0; off < data.length; off += MAX_PIECE) {
      const part = data.subarray(off, Math.min(data.length, off + MAX_PIECE));
      const known = from >= 0 ? this.previous?.byOffset.get(from + off) : undefined;
      if (known && known.length === part.length) {
        // The previous file's piece at the same bytes: neither hashed nor compressed again.
        this.crc = crc32Combine(this.crc, known.crc, part.length);
        this.pieces.push(Promise.resolve(this.compressor.reused(known)));
        continue;
      }
      const crc = crc32(part);
      this.crc = crc32Combine(this.crc, crc, part.length);
      // Started now, awaited at the end: compression runs while the next entries are rendered.
      await this.compressor.ready();
      const p = this.compressor.add(part, this.reuse, crc);
      p.catch(() => {});
      this.pieces.push(p);
    }
  }

  private written = 0;
  private unwritten: Buffer[] = [];
  private unwrittenBytes = 0;

  private async flush(): Promise<void> {
    if (this.unwrittenBytes === 0) return;
    const data = this.unwritten.length === 1 ? this.unwritten[0]! : Buffer.concat(this.unwritten);
    this.unwritten = [];
    this.unwrittenBytes = 0;
    await writeAll(this.handle, data, this.written);
    this.written += data.length;
  }

  /**
   * Ends the file; returns its sha256, CRC-32, size and pieces (complete once the compressor
   * drained).
   */
  async finish(): Promise<{ sha256: string; crc32: number; size: number; pieces: Promise<Piece>[] }> {
    this.endRun();
    const prevSize = this.previous?.bytes.length ?? 0;
    if (this.entries === 0) this.append(EMPTY, prevSize === EMPTY.length ? 0 : -1);
    else this.append(END, prevSize - END.length);
    await this.closePiece();
    await this.flush();
    await this.handle.close();
    return { sha256: this.hash.digest('hex'), crc32: this.crc, size: this.written, pieces: this.pieces };
  }

  /** Closes the file after a failure. */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}
