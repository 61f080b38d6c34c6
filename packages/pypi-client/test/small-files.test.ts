import { afterEach, describe, expect, it } from 'vitest';
import { createPypiClient, type PypiClient, type TrafficMeter } from '../src';
import {
  expectCode,
  fastRetry,
  type Handler,
  sha256Of,
  startServer,
  type TestServer,
  testConfig,
} from './helpers';

// Additions for the wheel METADATA reader (packages/extractor): fetchSmallFile, per-call
// traffic meters, and a bound on what a 200 answer to a Range request may cost.

let servers: TestServer[] = [];
let clients: PypiClient[] = [];

afterEach(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.close();
  clients = [];
  servers = [];
});

async function setup(handler: Handler) {
  const server = await startServer(handler);
  const client = createPypiClient(testConfig(server.url), { retry: fastRetry });
  servers.push(server);
  clients.push(client);
  return { server, client };
}

const METADATA = Buffer.from('Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n'.repeat(20));
const FILE = Buffer.alloc(200_000, 0x42);

describe('fetchSmallFile', () => {
  it('reads a file and checks its sha256', async () => {
    const { client, server } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': METADATA.length });
      res.end(METADATA);
    });
    const url = `${server.url}/packages/demo-1.0-py3-none-any.whl.metadata`;
    const got = await client.fetchSmallFile(url, {
      maxBytes: 1 << 20,
      sha256: sha256Of(METADATA).toUpperCase(),
    });
    expect(got).toEqual({ data: METADATA, sha256: sha256Of(METADATA), url });
    expect((await client.fetchSmallFile(url, { maxBytes: 1 << 20 })).data).toEqual(METADATA);
    const err = await expectCode(
      client.fetchSmallFile(url, { maxBytes: 1 << 20, sha256: 'a'.repeat(64) }),
      'download-sha256-mismatch',
    );
    expect(err.details).toMatchObject({ actualSha256: sha256Of(METADATA) });
  });

  it('stops at maxBytes, with or without Content-Length', async () => {
    const { client, server } = await setup((req, res) => {
      res.writeHead(200, req.url?.includes('chunked') ? {} : { 'content-length': FILE.length });
      res.end(FILE);
    });
    await expectCode(client.fetchSmallFile(`${server.url}/a`, { maxBytes: 1000 }), 'response-too-large');
    await expectCode(
      client.fetchSmallFile(`${server.url}/chunked`, { maxBytes: 1000 }),
      'response-too-large',
    );
    expect(client.stats().bytesReceived).toBeLessThan(FILE.length);
  });

  it('retries a 503', async () => {
    let calls = 0;
    const { client, server } = await setup((_req, res) => {
      if (++calls === 1) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-length': METADATA.length });
      res.end(METADATA);
    });
    const meter: TrafficMeter = { requests: 0, bytesReceived: 0 };
    await client.fetchSmallFile(`${server.url}/m`, { maxBytes: 1 << 20, meter });
    expect(meter).toEqual({ requests: 2, bytesReceived: METADATA.length });
  });
});

describe('traffic meters', () => {
  it('count one caller’s requests and bytes, redirects and HEAD included', async () => {
    const { client, server } = await setup((req, res) => {
      if (req.url === '/old') {
        res.writeHead(301, { location: '/new' }).end();
        return;
      }
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
      if (range) {
        const [start, end] = [Number(range[1]), Number(range[2])];
        res.writeHead(206, {
          'content-range': `bytes ${start}-${end}/${FILE.length}`,
          'content-length': end - start + 1,
        });
        res.end(FILE.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { 'content-length': FILE.length });
      res.end(req.method === 'HEAD' ? undefined : FILE);
    });
    const meter: TrafficMeter = { requests: 0, bytesReceived: 0 };
    const other: TrafficMeter = { requests: 0, bytesReceived: 0 };
    await client.head(`${server.url}/f`, { meter });
    await client.fetchRange(`${server.url}/old`, 100, 199, { meter });
    await client.fetchRange(`${server.url}/f`, 0, 9, { meter: other });
    expect(meter).toEqual({ requests: 3, bytesReceived: 100 });
    expect(other).toEqual({ requests: 1, bytesReceived: 10 });
    expect(client.stats()).toMatchObject({ requests: 4, bytesReceived: 110 });
  });
});

describe('fetchRange with maxBytesIfRangeIgnored', () => {
  it('reads nothing of a 200 answer beyond the bound', async () => {
    const { client, server } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': FILE.length });
      res.end(FILE);
    });
    const meter: TrafficMeter = { requests: 0, bytesReceived: 0 };
    await expectCode(
      client.fetchRange(`${server.url}/f`, FILE.length - 100, FILE.length - 1, {
        maxBytesIfRangeIgnored: 65536,
        meter,
      }),
      'range-not-supported',
    );
    expect(meter).toEqual({ requests: 1, bytesReceived: 0 });
    // Within the bound, the prefix answers the read.
    const r = await client.fetchRange(`${server.url}/f`, 10, 19, { maxBytesIfRangeIgnored: 65536 });
    expect(r).toMatchObject({ rangeIgnored: true, start: 10, end: 19 });
    expect(r.data).toEqual(FILE.subarray(10, 20));
  });
});
