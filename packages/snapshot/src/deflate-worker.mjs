// Compresses tarball pieces for gzip-pieces.ts in a worker thread: zlib's synchronous call here
// costs a fraction of what zlib's asynchronous call costs the main thread per ~50 KB piece (a
// stream and its callbacks for each). Plain JavaScript: a worker loads it with Node alone,
// whatever runs the main thread (tsx, vitest).
//
// Message in: { id, data: Uint8Array, options } (zlib options of deflateRawSync).
// Message out: { id, out: Uint8Array } or { id, error: string }.
import { parentPort } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';

parentPort.on('message', ({ id, data, options }) => {
  try {
    const out = deflateRawSync(data, options);
    // copied, not transferred: a small result may share Node's buffer pool
    parentPort.postMessage({ id, out });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
