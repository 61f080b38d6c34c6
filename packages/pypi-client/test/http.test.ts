import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createPypiClient, type PypiClient } from '../src';
import { backoffDelay, parseRetryAfter } from '../src/common';
import { errorForStatus } from '../src/http-errors';
import {
  expectCode,
  fastRetry,
  type Handler,
  json,
  projectJson,
  sleep,
  startServer,
  type TestServer,
  testConfig,
} from './helpers';

let servers: TestServer[] = [];
let clients: PypiClient[] = [];

afterEach(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.close();
  clients = [];
  servers = [];
});

async function setup(handler: Handler, env: Record<string, string> = {}, retry = fastRetry) {
  const server = await startServer(handler);
  const config = testConfig(server.url, env);
  const client = createPypiClient(config, { retry });
  servers.push(server);
  clients.push(client);
  return { server, client, config };
}

describe('retry policy helpers', () => {
  it('reads Retry-After as seconds or as an HTTP-date', () => {
    const now = Date.parse('2024-05-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 01 May 2024 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 30 Apr 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('maps statuses to codes, with Retry-After only for 429 and 503', () => {
    expect(errorForStatus(429, { 'retry-after': '2' }, 'u')).toMatchObject({
      code: 'http-429',
      retryAfterMs: 2000,
    });
    expect(errorForStatus(503, { 'retry-after': '4' }, 'u')).toMatchObject({
      code: 'http-5xx',
      retryAfterMs: 4000,
    });
    expect(errorForStatus(500, { 'retry-after': '4' }, 'u').retryAfterMs).toBeUndefined();
    expect(errorForStatus(410, {}, 'u').code).toBe('http-4xx');
    expect(errorForStatus(404, {}, 'u', { 404: 'project-not-found' }).code).toBe('project-not-found');
  });

  it('grows the backoff exponentially, with jitter, up to the maximum', () => {
    const policy = { baseMs: 100, maxMs: 1000, maxRetryAfterMs: 0 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 1)).toBe(400);
    expect(backoffDelay(policy, 10, () => 1)).toBe(1000);
    expect(backoffDelay(policy, 10, () => 0)).toBe(500);
  });
});

describe('http core', () => {
  it('sends the configured User-Agent and honours Retry-After on 429', async () => {
    let calls = 0;
    const { client, config, server } = await setup((_req, res) => {
      if (calls++ === 0) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end('slow down');
      } else json(res, projectJson('demo'));
    });
    const t0 = performance.now();
    const project = await client.getProjectJson('demo');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(project.name).toBe('demo');
    expect(server.requests.map((r) => r.headers['user-agent'])).toEqual([config.userAgent, config.userAgent]);
    expect(config.userAgent).toContain('tests@example.invalid');
    expect(client.stats()).toMatchObject({ requests: 2, retries: 1 });
  });

  it('gives up at once when Retry-After is longer than it is willing to sleep', async () => {
    const { client, server } = await setup((_req, res) => {
      res.writeHead(429, { 'retry-after': '3600' });
      res.end();
    });
    const err = await expectCode(client.getProjectJson('demo'), 'http-429');
    expect(err.retryAfterMs).toBe(3_600_000);
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 503 and succeeds', async () => {
    let calls = 0;
    const { client } = await setup((_req, res) => {
      if (calls++ === 0) {
        res.writeHead(503);
        res.end();
      } else json(res, projectJson('demo'));
    });
    expect((await client.getProjectJson('demo')).lastSerial).toBe(7);
    expect(client.stats().retries).toBe(1);
  });

  it('fails with http-5xx after HTTP_ATTEMPTS attempts', async () => {
    const { client, server } = await setup(
      (_req, res) => {
        res.writeHead(500);
        res.end();
      },
      { HTTP_ATTEMPTS: '4' },
    );
    await expectCode(client.getProjectJson('demo'), 'http-5xx');
    expect(server.requests).toHaveLength(4);
    expect(client.stats()).toMatchObject({ retries: 3, failures: { 'http-5xx': 1 } });
  });

  it('does not retry final answers: 404 is project-not-found, 403 is http-4xx', async () => {
    const { client, server } = await setup((req, res) => {
      res.writeHead(req.url?.includes('forbidden') ? 403 : 404);
      res.end();
    });
    await expectCode(client.getProjectJson('missing'), 'project-not-found');
    await expectCode(client.getProjectJson('forbidden'), 'http-4xx');
    expect(server.requests).toHaveLength(2);
  });

  it('reports body-truncated when fewer bytes than Content-Length arrive, and retries it', async () => {
    let calls = 0;
    const full = JSON.stringify(projectJson('demo'));
    const { client, server } = await setup((_req, res) => {
      if (calls++ === 0) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': full.length });
        res.write(full.slice(0, 20));
        setTimeout(() => res.socket?.destroy(), 20);
      } else json(res, projectJson('demo'));
    });
    expect((await client.getProjectJson('demo')).name).toBe('demo');
    expect(server.requests).toHaveLength(2);

    calls = 0;
    const { client: once } = await setup(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
        res.write('{"info":');
        setTimeout(() => res.socket?.destroy(), 20);
      },
      { HTTP_ATTEMPTS: '1' },
    );
    await expectCode(once.getProjectJson('demo'), 'body-truncated');
  });

  it('times out on a body that stalls, and on headers that never come', async () => {
    const { client } = await setup(
      (req, res) => {
        if (req.url?.includes('slowheaders')) return; // never answers
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"info": ');
        // ...and nothing more
      },
      { HTTP_TIMEOUT_MS: '200', HTTP_ATTEMPTS: '1' },
    );
    const t0 = performance.now();
    await expectCode(client.getProjectJson('slowbody'), 'http-timeout');
    await expectCode(client.getProjectJson('slowheaders'), 'http-timeout');
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('refuses an oversized answer without reading it all', async () => {
    let written = 0;
    const { client } = await setup(
      (req, res) => {
        if (req.url?.includes('declared')) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 50_000_000 });
          res.write('{');
          return;
        }
        // Chunked, endless: the client must stop by itself.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (!res.destroyed && written < 50_000_000) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        res.on('close', () => undefined);
        pump();
      },
      { HTTP_MAX_RESPONSE_BYTES: String(256 * 1024) },
    );
    await expectCode(client.getProjectJson('declared'), 'response-too-large');
    await expectCode(client.getProjectJson('chunked'), 'response-too-large');
    const received = client.stats().bytesReceived;
    expect(received).toBeGreaterThan(256 * 1024);
    expect(received).toBeLessThan(2 * 1024 * 1024);
    await sleep(50);
    expect(written).toBeLessThan(20_000_000);
  });

  it('asks for gzip on API calls, decodes it, and caps the decoded size', async () => {
    const { client, server } = await setup(
      (req, res) => {
        const body = req.url?.includes('bomb')
          ? gzipSync(Buffer.alloc(5 * 1024 * 1024, 0x20))
          : gzipSync(JSON.stringify(projectJson('demo')));
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(body);
      },
      { HTTP_MAX_RESPONSE_BYTES: String(256 * 1024) },
    );
    expect((await client.getProjectJson('demo')).name).toBe('demo');
    expect(server.requests[0]?.headers['accept-encoding']).toBe('gzip');
    await expectCode(client.getProjectJson('bomb'), 'response-too-large');
  });

  it('rejects bodies that are not JSON', async () => {
    const { client } = await setup((req, res) => {
      if (req.url?.includes('html')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html></html>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"info": ');
      }
    });
    await expectCode(client.getProjectJson('broken'), 'response-invalid');
    await expectCode(client.getProjectJson('html'), 'response-invalid');
  });

  it('follows redirects on allowed hosts only', async () => {
    const { client, server } = await setup((req, res) => {
      if (req.url === '/pypi/Demo_Pkg/json') {
        res.writeHead(301, { location: '/pypi/demo-pkg/json' });
        res.end();
      } else if (req.url === '/pypi/evil/json') {
        res.writeHead(302, { location: `http://localhost:${servers[0]?.port}/pypi/demo-pkg/json` });
        res.end();
      } else json(res, projectJson('demo-pkg'));
    });
    expect((await client.getProjectJson('Demo_Pkg')).name).toBe('demo-pkg');
    expect(server.requests.map((r) => r.url)).toEqual(['/pypi/Demo_Pkg/json', '/pypi/demo-pkg/json']);
    await expectCode(client.getProjectJson('evil'), 'url-host-not-allowed');
    expect(server.requests).toHaveLength(3);
  });

  it('maps a refused connection to network-error', async () => {
    const { client, server } = await setup(() => undefined, { HTTP_ATTEMPTS: '2' });
    await server.close();
    await expectCode(client.getProjectJson('demo'), 'network-error');
    expect(client.stats()).toMatchObject({ requests: 2, retries: 1 });
  });

  it('honours an AbortSignal: before sending, mid-response and during a backoff', async () => {
    const { client, server } = await setup(
      (req, res) => {
        if (req.url?.includes('slow')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{');
          return;
        }
        res.writeHead(503);
        res.end();
      },
      { HTTP_TIMEOUT_MS: '10000' },
      { baseMs: 10_000, maxMs: 10_000, maxRetryAfterMs: 60_000 },
    );
    await expectCode(client.getProjectJson('demo', { signal: AbortSignal.abort() }), 'aborted');
    expect(server.requests).toHaveLength(0);

    const t0 = performance.now();
    await expectCode(client.getProjectJson('slow', { signal: AbortSignal.timeout(100) }), 'aborted');
    await expectCode(client.getProjectJson('backoff', { signal: AbortSignal.timeout(200) }), 'aborted');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(server.requests.filter((r) => r.url.includes('backoff'))).toHaveLength(1);
  });

  it('keeps connections alive and caps them per host', async () => {
    let active = 0;
    let maxActive = 0;
    const { client, server } = await setup(
      async (_req, res) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(50);
        active--;
        json(res, projectJson('demo'));
      },
      { HTTP_CONNECTIONS_PER_HOST: '2' },
    );
    // Without keep-alive, ten requests would open ten connections. (undici may open a second one
    // when a request is sent in the same tick the previous body ended, hence "at most 2".)
    for (let i = 0; i < 10; i++) await client.getProjectJson('demo');
    expect(server.connections).toBeLessThanOrEqual(2);
    await Promise.all(Array.from({ length: 6 }, () => client.getProjectJson('demo')));
    expect(maxActive).toBe(2);
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it('throttles requests per host to HTTP_RPS_PER_HOST', async () => {
    const { client, server } = await setup((_req, res) => json(res, projectJson('demo')), {
      HTTP_RPS_PER_HOST: '10',
    });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 6 }, () => client.getProjectJson('demo')));
    // Six requests at 10/s: five intervals of 100 ms at least.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(490);
    expect(server.requests).toHaveLength(6);
    expect(client.stats().throttleWaitMs).toBeGreaterThan(0);
  });
});
