// The NAR hash of a published tree (see nar.ts), computed in a worker thread so that the
// snapshot's main thread assembles the tarball meanwhile. Plain JavaScript: a worker loads it
// with Node alone, whatever runs the main thread (tsx, vitest).
//
// workerData: the tree as readTree gives it ({ type, name, absPath, size, executable, children }).
// Posts { digest: Uint8Array } or { error: { message } }.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const PAD = Buffer.alloc(8);
const CHUNK = Buffer.allocUnsafe(1 << 20);

/** A NAR string: 64-bit little-endian length, the bytes, zero padding to 8 bytes. */
function narString(hash, s) {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  hash.update(len);
  hash.update(bytes);
  if (bytes.length % 8 !== 0) hash.update(PAD.subarray(0, 8 - (bytes.length % 8)));
}

/** Hashes the NAR of `node`; returns the path of a file whose size changed meanwhile, else null. */
function narNode(hash, node) {
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
      const changed = narNode(hash, child);
      if (changed !== null) return changed;
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
    const fd = openSync(node.absPath, 'r');
    let seen = 0;
    try {
      for (;;) {
        const n = readSync(fd, CHUNK, 0, CHUNK.length, null);
        if (n === 0) break;
        seen += n;
        hash.update(CHUNK.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    // reported to the main thread, which makes the error (its codes live there)
    if (seen !== node.size) return node.absPath;
    if (node.size % 8 !== 0) hash.update(PAD.subarray(0, 8 - (node.size % 8)));
  }
  narString(hash, ')');
  return null;
}

try {
  const hash = createHash('sha256');
  narString(hash, 'nix-archive-1');
  const changed = narNode(hash, workerData);
  if (changed === null) parentPort.postMessage({ digest: hash.digest() });
  else parentPort.postMessage({ error: { message: `file changed while hashing: ${changed}` } });
} catch (err) {
  parentPort.postMessage({ error: { message: err instanceof Error ? err.message : String(err) } });
}
