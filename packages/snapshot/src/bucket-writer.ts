/**
 * Writes one bucket file from its entries in key order, cutting it into the tarball's pieces as
 * it goes. The file is what `dumpPythonChunks` writes for the bucket's object: `{`, each entry
 * after `\n  ` (the first) or `,\n  `, then `\n}`; `{}` without entries.
 *
 * Piece boundaries depend on the content alone, so a full and an incremental snapshot cut the
 * same file the same way, and a change in one project only changes the piece it falls in: a new
 * piece starts before an entry whose key hashes to 0 modulo {@link CUT_EVERY} (about one key in
 * that many), and a piece longer than {@link MAX_PIECE} bytes is split every MAX_PIECE bytes.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { Piece, PieceCompressor } from './gzip-pieces';

/** About one key in this many starts a new piece (~50 KB pieces at PyPI's size). */
export const CUT_EVERY = 48;
/** Longest piece: a project with thousands of releases is split so that cores share it. */
export const MAX_PIECE = 1 << 20;

const FIRST = Buffer.from('{\n  ');
const NEXT = Buffer.from(',\n  ');
const END = Buffer.from('\n}');
const EMPTY = Buffer.from('{}');

/** FNV-1a of the key's UTF-16 code units: cheap, and the same on every machine. */
function cutsBefore(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % CUT_EVERY === 0;
}

export class BucketWriter {
  private readonly hash = createHash('sha256');
  private position = 0;
  private piece: Buffer[] = [];
  private pieceBytes = 0;
  private entries = 0;
  readonly pieces: Promise<Piece>[] = [];

  private constructor(
    private readonly handle: FileHandle,
    private readonly compressor: PieceCompressor,
    private readonly reuse: ReadonlyMap<string, Piece> | undefined,
  ) {}

  static async create(
    path: string,
    compressor: PieceCompressor,
    reuse: ReadonlyMap<string, Piece> | undefined,
  ): Promise<BucketWriter> {
    return new BucketWriter(await open(path, 'wx', 0o644), compressor, reuse);
  }

  /** Appends the entry `"key": value` (its bytes); returns its offset in the file. */
  async entry(key: string, text: Buffer): Promise<number> {
    if (this.pieceBytes > 0 && cutsBefore(key)) await this.closePiece();
    const sep = this.entries === 0 ? FIRST : NEXT;
    this.entries++;
    this.piece.push(sep, text);
    this.pieceBytes += sep.length + text.length;
    const offset = this.position + sep.length;
    this.position += sep.length + text.length;
    return offset;
  }

  private async closePiece(): Promise<void> {
    const data = Buffer.concat(this.piece, this.pieceBytes);
    this.piece = [];
    this.pieceBytes = 0;
    this.hash.update(data);
    // Written a megabyte at a time: one write per ~50 KB piece cost seconds at PyPI's size.
    this.unwritten.push(data);
    this.unwrittenBytes += data.length;
    if (this.unwrittenBytes >= 1 << 20) await this.flush();
    for (let off = 0; off < data.length; off += MAX_PIECE) {
      const part = data.subarray(off, Math.min(data.length, off + MAX_PIECE));
      // Started now, awaited at the end: compression runs while the next entries are rendered.
      await this.compressor.ready();
      const p = this.compressor.add(part, this.reuse);
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

  /** Ends the file; returns its sha256, size and pieces (complete once the compressor drained). */
  async finish(): Promise<{ sha256: string; size: number; pieces: Promise<Piece>[] }> {
    if (this.entries === 0) {
      this.piece.push(EMPTY);
      this.pieceBytes += EMPTY.length;
    } else {
      this.piece.push(END);
      this.pieceBytes += END.length;
    }
    await this.closePiece();
    await this.flush();
    await this.handle.close();
    return { sha256: this.hash.digest('hex'), size: this.written, pieces: this.pieces };
  }

  /** Closes the file after a failure. */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let off = 0; off < data.length; ) {
    off += (await handle.write(data, off, data.length - off, position + off)).bytesWritten;
  }
}
