/**
 * The hash `builtins.fetchTarball { url; sha256; }` checks: sha256 of the NAR serialisation of the
 * unpacked tree (the tarball's single top-level directory), printed the two ways Nix accepts.
 * NAR format: Eelco Dolstra's thesis, figure 5.2, and Nix `src/libutil/archive.cc`.
 *
 * The serialisation and its hash run in a worker thread (nar-worker.mjs): at PyPI's size the tree
 * is 4 GiB, and the snapshot's main thread writes the tarball meanwhile.
 */

import { Worker } from 'node:worker_threads';
import { snapshotError } from '@pypi-graph/core';
import { readTree, type TreeNode } from './tree';

const WORKER = new URL('./nar-worker.mjs', import.meta.url);

/**
 * sha256 of the NAR of a tree already read with {@link readTree}. An abort of `signal` stops the
 * worker and rejects with the signal's reason.
 */
export function narSha256OfTree(root: TreeNode, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    // execArgv []: the worker is plain JavaScript and needs none of the main thread's loaders.
    const worker = new Worker(WORKER, { workerData: root, execArgv: [] });
    let settled = false;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      done();
    };
    const onAbort = () => {
      settle(() => reject(signal!.reason));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: { digest?: Uint8Array; error?: { message: string } }) => {
      if (m.digest) settle(() => resolve(Buffer.from(m.digest!)));
      else settle(() => reject(snapshotError('snapshot-failed', m.error?.message ?? 'NAR hash failed')));
    });
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) =>
      settle(() => reject(snapshotError('snapshot-failed', `the NAR hash worker exited with code ${code}`))),
    );
  });
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
