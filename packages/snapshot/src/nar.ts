/**
 * The hash `builtins.fetchTarball { url; sha256; }` checks: sha256 of the NAR serialisation of the
 * unpacked tree (the tarball's single top-level directory), printed the two ways Nix accepts.
 * NAR format: Eelco Dolstra's thesis, figure 5.2, and Nix `src/libutil/archive.cc`.
 */

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { snapshotError } from '@pypi-graph/core';
import { readTree, type TreeNode } from './tree';

const PAD = Buffer.alloc(8);
const SMALL_FILE = 1 << 20;

/** A NAR string: 64-bit little-endian length, the bytes, zero padding to 8 bytes. */
function narString(hash: Hash, s: string | Buffer): void {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  hash.update(len);
  hash.update(bytes);
  if (bytes.length % 8 !== 0) hash.update(PAD.subarray(0, 8 - (bytes.length % 8)));
}

async function narNode(hash: Hash, node: TreeNode): Promise<void> {
  narString(hash, '(');
  narString(hash, 'type');
  if (node.type === 'directory') {
    narString(hash, 'directory');
    // Children are already in byte order of their names, as Nix writes them.
    for (const child of node.children) {
      narString(hash, 'entry');
      narString(hash, '(');
      narString(hash, 'name');
      narString(hash, child.name);
      narString(hash, 'node');
      await narNode(hash, child);
      narString(hash, ')');
    }
  } else {
    narString(hash, 'regular');
    if (node.executable) {
      narString(hash, 'executable');
      narString(hash, '');
    }
    narString(hash, 'contents');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(node.size));
    hash.update(len);
    // Small files in one read (stream setup costs more than the read); large ones streamed.
    let seen = 0;
    const chunks = node.size <= SMALL_FILE ? [await readFile(node.absPath)] : createReadStream(node.absPath);
    for await (const chunk of chunks) {
      const buf = chunk as Buffer;
      seen += buf.length;
      hash.update(buf);
    }
    if (seen !== node.size) {
      throw snapshotError('snapshot-failed', `file changed while hashing: ${node.absPath}`);
    }
    if (node.size % 8 !== 0) hash.update(PAD.subarray(0, 8 - (node.size % 8)));
  }
  narString(hash, ')');
}

/** sha256 of the NAR of a tree already read with {@link readTree}. */
export async function narSha256OfTree(root: TreeNode): Promise<Buffer> {
  const hash = createHash('sha256');
  narString(hash, 'nix-archive-1');
  await narNode(hash, root);
  return hash.digest();
}

/** sha256 of the NAR serialisation of `dir` (what `nix-hash --type sha256 dir` prints). */
export async function narSha256(dir: string): Promise<Buffer> {
  return narSha256OfTree(await readTree(dir));
}

// Nix's base32 alphabet: digits and letters without e, o, u, t (src/libutil/hash.cc).
const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';

/**
 * Nix's base32 (`printHash32`): 5-bit groups taken from the least significant end of the byte
 * string, printed most significant first; 52 characters for a sha256.
 */
export function nixBase32(bytes: Uint8Array): string {
  const len = Math.floor((bytes.length * 8 - 1) / 5) + 1;
  let out = '';
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    const lo = bytes[i]! >> j;
    const hi = i >= bytes.length - 1 ? 0 : bytes[i + 1]! << (8 - j);
    out += NIX_BASE32[(lo | hi) & 0x1f];
  }
  return out;
}

/** The SRI form Nix prints and accepts: `sha256-<standard base64>`. */
export function sriSha256(bytes: Uint8Array): string {
  return 'sha256-' + Buffer.from(bytes).toString('base64');
}
