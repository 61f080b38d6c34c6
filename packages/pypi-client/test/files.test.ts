import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPypiClient, type PypiClient } from '../src';
import {
  expectCode,
  fastRetry,
  type Handler,
  sha256Of,
  startServer,
  type TestServer,
  testConfig,
} from './helpers';

let servers: TestServer[] = [];
let clients: PypiClient[] = [];
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pypi-client-'));
});

afterEach(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.close();
  clients = [];
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

async function setup(handler: Handler, env: Record<string, string> = {}) {
  const server = await startServer(handler);
  const client = createPypiClient(testConfig(server.url, env), { retry: fastRetry });
  servers.push(server);
  clients.push(client);
  return { server, client };
}

const CONTENT = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(1000));
const SHA = sha256Of(CONTENT);

/** Serves CONTENT with HEAD and Range support, like a files host. */
const filesHost: Handler = (req, res) => {
  const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
  if (range && req.url?.startsWith('/ranged/')) {
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]), CONTENT.length - 1);
    res.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${CONTENT.length}`,
      'content-length': end - start + 1,
    });
    res.end(CONTENT.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, {
    'content-length': CONTENT.length,
    'accept-ranges': 'bytes',
    etag: '"abc"',
    'content-type': 'application/octet-stream',
  });
  res.end(req.method === 'HEAD' ? undefined : CONTENT);
};

describe('download', () => {
  it('streams to a file in dir and verifies sha256 and size', async () => {
    const { client } = await setup(filesHost);
    const result = await client.download(`${servers[0]!.url}/packages/demo-1.0.tar.gz`, {
      sha256: SHA.toUpperCase(),
      size: CONTENT.length,
      dir,
    });
    expect(result).toMatchObject({ bytes: CONTENT.length, sha256: SHA });
    expect(path.dirname(result.path)).toBe(dir);
    expect(result.path).toMatch(/-demo-1\.0\.tar\.gz$/);
    expect(await readFile(result.path)).toEqual(CONTENT);
    expect(await readdir(dir)).toEqual([path.basename(result.path)]);
  });

  it('deletes the file and fails with download-sha256-mismatch on wrong bytes', async () => {
    const { client, server } = await setup((_req, res) => {
      const wrong = Buffer.from(CONTENT);
      wrong[100] = 0;
      res.writeHead(200, { 'content-length': wrong.length });
      res.end(wrong);
    });
    const err = await expectCode(
      client.download(`${server.url}/f.tar.gz`, { sha256: SHA, dir }),
      'download-sha256-mismatch',
    );
    expect(err.details).toMatchObject({ expectedSha256: SHA, actualSha256: expect.any(String) });
    expect(await readdir(dir)).toEqual([]);
    // Not retried in-process: the job layer decides.
    expect(server.requests).toHaveLength(1);
  });

  it('fails with download-size-mismatch, without writing, when Content-Length disagrees', async () => {
    const { client } = await setup(filesHost);
    await expectCode(
      client.download(`${servers[0]!.url}/f.tar.gz`, { sha256: SHA, size: CONTENT.length - 1, dir }),
      'download-size-mismatch',
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves nothing behind when aborted mid-body', async () => {
    const { client, server } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': CONTENT.length });
      res.write(CONTENT.subarray(0, 1000)); // ...and stalls
    });
    const controller = new AbortController();
    const p = client.download(`${server.url}/f.tar.gz`, { sha256: SHA, dir, signal: controller.signal });
    setTimeout(() => controller.abort(), 150);
    await expectCode(p, 'aborted');
    expect(await readdir(dir)).toEqual([]);
  });

  it('retries a truncated download from scratch and keeps one good file', async () => {
    let calls = 0;
    const { client, server } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': CONTENT.length });
      if (calls++ === 0) {
        res.write(CONTENT.subarray(0, 5000));
        setTimeout(() => res.socket?.destroy(), 20);
      } else res.end(CONTENT);
    });
    const result = await client.download(`${server.url}/f.tar.gz`, { sha256: SHA, dir });
    expect(server.requests).toHaveLength(2);
    expect(await readdir(dir)).toEqual([path.basename(result.path)]);
    expect(await readFile(result.path)).toEqual(CONTENT);
  });

  it('refuses URLs outside the files hosts before any request', async () => {
    const { client, server } = await setup(filesHost);
    await expectCode(
      client.download(`http://localhost:${server.port}/f.tar.gz`, { sha256: SHA, dir }),
      'url-host-not-allowed',
    );
    await expectCode(client.download('file:///etc/passwd', { sha256: SHA, dir }), 'url-host-not-allowed');
    await expectCode(client.head('http://169.254.169.254/latest/'), 'url-host-not-allowed');
    await expectCode(client.fetchRange('http://example.com/x.whl', 0, 10), 'url-host-not-allowed');
    expect(server.requests).toHaveLength(0);
  });

  it('caps a download of unknown size', async () => {
    const { client } = await setup(filesHost);
    await expectCode(
      client.download(`${servers[0]!.url}/f.tar.gz`, { sha256: SHA, dir, maxBytes: 1000 }),
      'response-too-large',
    );
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('fetchRange and head', () => {
  it('reads a byte range (206)', async () => {
    const { client, server } = await setup(filesHost);
    const r = await client.fetchRange(`${server.url}/ranged/f.whl`, 10, 19);
    expect(server.requests[0]?.headers.range).toBe('bytes=10-19');
    expect(r).toMatchObject({ start: 10, end: 19, totalSize: CONTENT.length, rangeIgnored: false });
    expect(r.data).toEqual(CONTENT.subarray(10, 20));
    // Past the end of the file the server clips the range.
    const tail = await client.fetchRange(
      `${server.url}/ranged/f.whl`,
      CONTENT.length - 5,
      CONTENT.length + 100,
    );
    expect(tail.data).toEqual(CONTENT.subarray(CONTENT.length - 5));
  });

  it('reads only a bounded prefix when the server ignores Range and sends everything', async () => {
    let written = 0;
    let closed = false;
    const { client, server } = await setup(
      (_req, res) => {
        // 200 and an endless body: the whole "file", which is far larger than the cap.
        res.writeHead(200);
        const chunk = Buffer.alloc(16 * 1024, 0x61);
        const pump = () => {
          while (!res.destroyed && written < 100 * 1024 * 1024) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        res.on('close', () => {
          closed = true;
        });
        pump();
      },
      { HTTP_MAX_RESPONSE_BYTES: String(1024 * 1024) },
    );
    const r = await client.fetchRange(`${server.url}/f.whl`, 100, 199);
    expect(r).toMatchObject({ start: 100, end: 199, rangeIgnored: true });
    expect(r.data).toEqual(Buffer.alloc(100, 0x61));
    expect(client.stats().bytesReceived).toBeLessThan(1024 * 1024);
    await expectCode(client.fetchRange(`${server.url}/f.whl`, 50_000_000, 50_000_100), 'range-not-supported');
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
    expect(written).toBeLessThan(20 * 1024 * 1024);
  });

  it('rejects a 206 whose Content-Range does not match the request', async () => {
    const { client, server } = await setup((_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-9/${CONTENT.length}`, 'content-length': 10 });
      res.end(CONTENT.subarray(0, 10));
    });
    await expectCode(client.fetchRange(`${server.url}/f.whl`, 5, 14), 'response-invalid');
  });

  it('reads size, ETag and Range support with HEAD', async () => {
    const { client, server } = await setup(filesHost);
    expect(await client.head(`${server.url}/f.whl`)).toEqual({
      url: `${server.url}/f.whl`,
      size: CONTENT.length,
      etag: '"abc"',
      acceptRanges: true,
      contentType: 'application/octet-stream',
      lastModified: null,
    });
    expect(server.requests[0]?.method).toBe('HEAD');
  });
});
