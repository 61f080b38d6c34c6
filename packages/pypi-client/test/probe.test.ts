import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeIndex, requireIndex } from '../src';
import { startServer, type TestServer, testConfig, xmlrpcHandler } from './helpers';

// Whether the configured index can be reached at all (moved from packages/cli, issue 13 §2):
// real servers on 127.0.0.1, a port nobody listens on, a server that never answers.

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

/** A port on 127.0.0.1 that was free a moment ago: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('probeIndex', () => {
  it('an index that answers: reachable, with its last serial, in one request', async () => {
    const s = await server(xmlrpcHandler({ changelog_last_serial: () => ({ value: 4242 }) }));
    expect(await probeIndex(testConfig(s.url))).toEqual({ reachable: true, lastSerial: 4242 });
    expect(s.requests).toHaveLength(1);
  });

  it('any HTTP answer means reachable, even an error status, and is asked once', async () => {
    const s = await server((_req, res) => {
      res.writeHead(503);
      res.end('down for maintenance');
    });
    expect(await probeIndex(testConfig(s.url))).toEqual({ reachable: true, lastSerial: undefined });
    expect(s.requests).toHaveLength(1); // one attempt: no retry of the 503
  });

  it('a refused connection: unreachable, with the network error', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const probe = await probeIndex(testConfig(url));
    expect(probe.reachable).toBe(false);
    expect(!probe.reachable && probe.error.code).toBe('network-error');
  });

  it('no answer within the timeout: unreachable (http-timeout)', async () => {
    const s = await server(() => new Promise(() => {})); // reads the request, never answers
    const t0 = Date.now();
    const probe = await probeIndex(testConfig(s.url), s.url, 300);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(!probe.reachable && probe.error.code).toBe('http-timeout');
  });
});

describe('requireIndex', () => {
  it('returns the last serial of a reachable index', async () => {
    const s = await server(xmlrpcHandler({ changelog_last_serial: () => ({ value: 7 }) }));
    expect(await requireIndex(testConfig(s.url))).toBe(7);
  });

  it('throws index-unreachable naming the index, with a hint, when it cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const err = await requireIndex(testConfig(url)).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint?: string },
    );
    expect(err?.code).toBe('index-unreachable');
    expect(err?.message).toMatch(new RegExp(`^the index at ${url} is not reachable: `));
    expect(err?.message).not.toMatch(/\(https?:[^)]*\)$/); // the URL is said once
    expect(err?.hint).toContain('PYPI_URL');
  });
});
