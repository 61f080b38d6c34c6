/**
 * A deterministic `.tar.gz` of a tree: plain POSIX ustar (no pax or GNU extension headers), entries
 * in a fixed order with fixed metadata, and a gzip member whose header we write ourselves.
 * The same tree gives the same bytes wherever the same zlib build compresses it (Node bundles
 * its zlib: `process.versions.zlib`). What Nix pins is the NAR hash of the unpacked tree
 * (see nar.ts), which does not depend on compression at all.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { constants, crc32, createDeflateRaw } from 'node:zlib';
import { snapshotError } from '@pypi-graph/core';
import type { TreeNode } from './tree';

const BLOCK = 512;
// GNU tar and Python's tarfile pad the archive to a whole record of 20 blocks; so do we, for
// readers that insist on it.
const RECORD = 20 * BLOCK;
const MAX_SIZE = 8 ** 11 - 1; // 11 octal digits in the size field

/** Fixed metadata written into every entry. */
export interface TarOptions {
  /** Modification time of every entry, UNIX seconds. */
  mtime: number;
}

// A numeric field as Python's tarfile `itn` and GNU tar write it: zero-padded octal, then NUL.
function octal(header: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1)
    throw new RangeError(`value ${value} does not fit a ${width}-byte tar field`);
  header.write(digits + '\0', offset, width, 'ascii');
}

/**
 * Splits a path into ustar's `prefix` (≤155 bytes) and `name` (≤100 bytes) fields at a `/`, taking
 * the shortest prefix that works, as Python's tarfile does. Throws when the path cannot be stored
 * without an extension header. Paths are restricted to printable ASCII so every tar reads them
 * the same way.
 */
export function splitUstarPath(path: string): { prefix: string; name: string } {
  if (!/^[\x20-\x7e]+$/.test(path)) {
    throw snapshotError('snapshot-failed', `tar path is not printable ASCII: ${JSON.stringify(path)}`);
  }
  if (path.length <= 100) return { prefix: '', name: path };
  // A directory's trailing slash belongs to the name part.
  for (let i = path.indexOf('/'); i > 0 && i < path.length - 1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100) return { prefix, name };
  }
  throw snapshotError('snapshot-failed', `path too long for a ustar header: ${path}`, {
    hint: 'ustar holds a 155-byte prefix and a 100-byte name; shorten the path',
  });
}

/** One 512-byte ustar header. */
export function ustarHeader(
  path: string,
  type: 'file' | 'directory',
  size: number,
  mode: number,
  mtime: number,
) {
  const { prefix, name } = splitUstarPath(path);
  if (size > MAX_SIZE) throw snapshotError('snapshot-failed', `file too large for a ustar header: ${path}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'ascii');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h.write(type === 'file' ? '0' : '5', 156, 1, 'ascii');
  // linkname (157, 100 bytes) stays empty
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  // uname (265) and gname (297) stay empty: no user names in the archive
  octal(h, 329, 8, 0); // devmajor
  octal(h, 337, 8, 0); // devminor
  h.write(prefix, 345, 155, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  // Six octal digits, NUL, and the last space of the placeholder (GNU tar, Python tarfile).
  h.write(sum.toString(8).padStart(6, '0') + '\0', 148, 7, 'ascii');
  return h;
}

/**
 * The tar stream of `root` with every path under `topDir/`: the directory before its contents,
 * children in byte order of their names. Modes are 0755 for directories and executables, 0644
 * otherwise; uid/gid 0, empty user and group names, one fixed mtime.
 */
export async function* tarChunks(
  root: TreeNode & { type: 'directory' },
  topDir: string,
  options: TarOptions,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  let written = 0;
  async function* walk(node: TreeNode, path: string): AsyncGenerator<Buffer> {
    signal?.throwIfAborted();
    if (node.type === 'directory') {
      yield ustarHeader(path + '/', 'directory', 0, 0o755, options.mtime);
      written += BLOCK;
      for (const child of node.children) yield* walk(child, path + '/' + child.name);
      return;
    }
    yield ustarHeader(path, 'file', node.size, node.executable ? 0o755 : 0o644, options.mtime);
    const handle = await open(node.absPath, 'r');
    try {
      // Read exactly the size the header promised, in bounded pieces.
      let left = node.size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
        const { bytesRead } = await handle.read(buf, 0, buf.length, node.size - left);
        if (bytesRead === 0)
          throw snapshotError('snapshot-failed', `file shrank while archiving: ${node.absPath}`);
        left -= bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
    const pad = (BLOCK - (node.size % BLOCK)) % BLOCK;
    written += BLOCK + node.size + pad;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield* walk(root, topDir);
  // End of archive: two zero blocks, then zeros up to a whole record.
  const end = 2 * BLOCK;
  yield Buffer.alloc(end + ((RECORD - ((written + end) % RECORD)) % RECORD));
}

/**
 * The gzip compression level of every tarball: gzip's default. Measured on the buckets of a
 * 10-million-file snapshot, level 9 deflated 35 MB/s and level 6 101 MB/s for a tarball 4 %
 * larger (ratio 0.146 against 0.152): at PyPI's size that is some 75 CPU seconds per full
 * snapshot and a third of an incremental one's compression (docs/benchmarks.md).
 */
export const GZIP_LEVEL = 6;

/**
 * The fixed 10-byte gzip header (RFC 1952 §2.3): deflate, no flags, MTIME 0 ("no time stamp"),
 * XFL 0 (neither "maximum" nor "fastest": level 6, as gzip writes it), OS 255 ("unknown": the
 * bytes must not depend on the machine that wrote them).
 */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/** sha256 of what was written. */
export interface TarGzResult {
  sha256: string;
  bytes: number;
}

/**
 * Writes `root` as `<topDir>/…` into a gzip-compressed tarball at `file` (created or replaced,
 * flushed to disk before this resolves).
 */
export async function writeTarGz(
  root: TreeNode & { type: 'directory' },
  topDir: string,
  file: string,
  options: TarOptions,
  signal?: AbortSignal,
): Promise<TarGzResult> {
  let crc = 0;
  let isize = 0;
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(
    tarChunks(root, topDir, options, signal),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        crc = crc32(chunk, crc);
        isize = (isize + chunk.length) % 2 ** 32;
        yield chunk;
      }
    },
    createDeflateRaw({ level: GZIP_LEVEL, memLevel: 8, strategy: constants.Z_DEFAULT_STRATEGY }),
    async function* (source: AsyncIterable<Buffer>) {
      const emit = (b: Buffer) => {
        hash.update(b);
        bytes += b.length;
        return b;
      };
      yield emit(GZIP_HEADER);
      for await (const chunk of source) yield emit(chunk);
      // Trailer: CRC32 and ISIZE (input size mod 2^32), little-endian; known once input ended.
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(isize, 4);
      yield emit(trailer);
    },
    createWriteStream(file, { flush: true }),
    { signal },
  );
  return { sha256: hash.digest('hex'), bytes };
}
