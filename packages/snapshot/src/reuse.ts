/**
 * What the next snapshot may reuse from this one, kept beside it in `outDir/.reuse/` (outside
 * the published tree and tarball):
 *
 * - `<id>.entries`: per layout and bucket file, in the order publish writes them, each key's
 *   token (the source's change marker of the projects behind it), the length of its entry in
 *   the bucket file (0: the key has no entry; where each entry starts follows from the lengths,
 *   each entry coming 4 bytes after the one before) and its counts; per bucket file its
 *   sha256, size and CRC-32 (the next snapshot checks the file by size and CRC-32 before it
 *   copies entries from it: a damaged or edited file is rendered again);
 * - `<id>.pieces`: per tree file, the compressed pieces of the tarball in file order (sha256 of
 *   the uncompressed bytes, CRC, lengths, offset in `<id>.tar.gz`).
 *
 * Both start with a fingerprint of the code that rendered them; another fingerprint means
 * nothing is reused. Plain text, one record a line.
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { END_BYTES, SEPARATOR_BYTES } from './bucket-writer';
import { type Piece, writeAll } from './gzip-pieces';

export const REUSE_DIR = '.reuse';
/** First word of each file, with its format version: entries 2 (no offsets), pieces 1. */
const ENTRIES_MAGIC = 'pypi-graph-reuse 2';
const PIECES_MAGIC = 'pypi-graph-reuse 1';

/** One key of one bucket file. */
export interface EntryRecord {
  key: string;
  token: string;
  /**
   * Byte offset of `"key": value` in the bucket file, found when the record is read (not
   * written: a reused key's line stays the same when keys before it change); length 0 when the
   * key has no entry.
   */
  offset: number;
  length: number;
  releases: number;
  files: number;
  /** The record's line as read: written again as it is when the key is reused. */
  line?: string;
}

export interface EntryBlock {
  layout: string;
  bucket: string;
  /** sha256 hex, size and CRC-32 of the bucket file the offsets point into. */
  sha256: string;
  size: number;
  crc32: number;
  entries: EntryRecord[];
}

/** Line-by-line writer through a file handle, buffered. */
export class LineWriter {
  private buffer = '';
  private position = 0;
  private constructor(private readonly handle: FileHandle) {}

  static async create(path: string): Promise<LineWriter> {
    return new LineWriter(await open(path, 'wx', 0o644));
  }

  async line(text: string): Promise<void> {
    this.buffer += `${text}\n`;
    if (this.buffer.length >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    const data = Buffer.from(this.buffer, 'utf8');
    this.buffer = '';
    await writeAll(this.handle, data, this.position);
    this.position += data.length;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle.sync();
    await this.handle.close();
  }
}

export async function writeEntriesHeader(w: LineWriter, fingerprint: string): Promise<void> {
  await w.line(`${ENTRIES_MAGIC}\t${fingerprint}`);
}

export async function writeEntryBlock(w: LineWriter, block: EntryBlock): Promise<void> {
  // One string per block, one call: an await per line was most of the cost at PyPI's size
  // (about three million lines).
  const lines = [`B\t${block.layout}\t${block.bucket}\t${block.sha256}\t${block.size}\t${block.crc32}`];
  for (const e of block.entries) {
    lines.push(e.line ?? `E\t${JSON.stringify(e.key)}\t${e.token}\t${e.length}\t${e.releases}\t${e.files}`);
  }
  await w.line(lines.join('\n'));
}

export async function writePieces(
  path: string,
  fingerprint: string,
  pieces: ReadonlyMap<string, readonly Piece[]>,
): Promise<void> {
  const w = await LineWriter.create(path);
  await w.line(`${PIECES_MAGIC}\t${fingerprint}`);
  for (const [file, list] of pieces) {
    await w.line(`F\t${file}`);
    for (const p of list)
      await w.line(`P\t${p.sha256}\t${p.crc}\t${p.length}\t${p.compLength}\t${p.compOffset}`);
  }
  await w.close();
}

/** A tree file's pieces in a previous tarball: by content, and by where they start in the file. */
export interface FilePieces {
  bySha256: Map<string, Piece>;
  byOffset: Map<number, Piece>;
}

/** The pieces of a previous tarball by tree file, or undefined when unusable. */
export async function readPieces(
  path: string,
  fingerprint: string,
): Promise<Map<string, FilePieces> | undefined> {
  const out = new Map<string, FilePieces>();
  let current: FilePieces | undefined;
  let offset = 0;
  let first = true;
  try {
    for await (const line of createInterface({
      input: createReadStream(path),
      crlfDelay: Number.POSITIVE_INFINITY,
    })) {
      if (first) {
        if (line !== `${PIECES_MAGIC}\t${fingerprint}`) return undefined;
        first = false;
        continue;
      }
      const f = line.split('\t');
      if (f[0] === 'F') {
        current = { bySha256: new Map(), byOffset: new Map() };
        offset = 0;
        out.set(f[1]!, current);
      } else if (f[0] === 'P' && current) {
        const piece: Piece = {
          sha256: f[1]!,
          crc: Number(f[2]),
          length: Number(f[3]),
          compLength: Number(f[4]),
          compOffset: Number(f[5]),
          file: 'previous',
        };
        current.bySha256.set(piece.sha256, piece);
        current.byOffset.set(offset, piece);
        offset += piece.length;
      } else {
        return undefined;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return first ? undefined : out;
}

/**
 * Reads `<id>.entries` block by block in publish order; a block asked for that the file does
 * not have (a layout the previous snapshot lacked) is undefined.
 */
export class EntryReader {
  private lines: string[] = [];
  private at = 0;
  private rest = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly chunk = Buffer.allocUnsafe(1 << 20);
  private done = false;

  private constructor(
    private readonly handle: FileHandle,
    private readonly order: (layout: string, bucket: string) => number,
  ) {}

  /** Opens the file when its fingerprint is `fingerprint`; undefined otherwise. */
  static async open(
    path: string,
    fingerprint: string,
    order: (layout: string, bucket: string) => number,
  ): Promise<EntryReader | undefined> {
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) return undefined;
    const reader = new EntryReader(handle, order);
    const header = await reader.next();
    if (header !== `${ENTRIES_MAGIC}\t${fingerprint}`) {
      reader.close();
      return undefined;
    }
    return reader;
  }

  /**
   * The next line. Lines are split a megabyte at a time and handed out synchronously: at
   * PyPI's size the file has about three million lines (four per key), and a promise per line
   * (readline's iterator) cost more than the rest of reading it.
   */
  private next(): string | undefined | Promise<string | undefined> {
    if (this.at < this.lines.length) return this.lines[this.at++];
    return this.fill();
  }

  private async fill(): Promise<string | undefined> {
    while (this.at >= this.lines.length) {
      if (this.done) return undefined;
      const { bytesRead } = await this.handle.read(this.chunk, 0, this.chunk.length, null);
      let text = this.rest;
      if (bytesRead === 0) {
        this.done = true;
        text += this.decoder.end();
        this.lines = text === '' ? [] : [text];
        this.rest = '';
      } else {
        text += this.decoder.write(this.chunk.subarray(0, bytesRead));
        this.lines = text.split('\n');
        this.rest = this.lines.pop()!;
      }
      this.at = 0;
    }
    return this.lines[this.at++];
  }

  private lookahead: string | undefined;

  private take1(): string | undefined | Promise<string | undefined> {
    if (this.lookahead !== undefined) {
      const l = this.lookahead;
      this.lookahead = undefined;
      return l;
    }
    return this.next();
  }

  /** The block of `layout`/`bucket`, skipping blocks that come before it. */
  async take(layout: string, bucket: string): Promise<EntryBlock | undefined> {
    const want = this.order(layout, bucket);
    for (;;) {
      const line = await this.take1();
      if (line === undefined) return undefined;
      const f = line.split('\t');
      if (f[0] !== 'B') continue; // entries of a skipped block
      const at = this.order(f[1]!, f[2]!);
      if (at < want) continue;
      if (at > want) {
        this.lookahead = line;
        return undefined;
      }
      const block: EntryBlock = {
        layout,
        bucket,
        sha256: f[3]!,
        size: Number(f[4]),
        crc32: Number(f[5]),
        entries: [],
      };
      // Where the file's entries end so far: each starts after a separator (`{\n  ` before the
      // first, `,\n  ` before the others, bucket-writer.ts), and the file ends in END_BYTES
      // (`\n}`, or `{}` without entries). Lengths that do not add up to the recorded size make
      // the block unusable.
      let end = 0;
      for (;;) {
        const n = this.take1();
        const e = typeof n === 'object' ? await n : n;
        if (e === undefined || !e.startsWith('E\t')) {
          if (e !== undefined) this.lookahead = e;
          return block.size === end + END_BYTES ? block : undefined;
        }
        const g = e.split('\t');
        const k = g[1]!;
        const length = Number(g[3]);
        const offset = length > 0 ? end + SEPARATOR_BYTES : 0;
        if (length > 0) end = offset + length;
        block.entries.push({
          // JSON of a key without escapes is the key in quotes.
          key: k.includes('\\') ? (JSON.parse(k) as string) : k.slice(1, -1),
          token: g[2]!,
          offset,
          length,
          releases: Number(g[4]),
          files: Number(g[5]),
          line: e,
        });
      }
    }
  }

  close(): void {
    void this.handle.close().catch(() => {});
  }
}
