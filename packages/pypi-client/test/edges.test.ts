// Issue 10, point 5: the network edges of the HTTP client, against real servers: an https server
// with a certificate from a CA made here (and trusted through the client's `ca` option), a server
// that drips its answer a byte at a time, and a host name that does not resolve.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isEnvironmentFault } from '@pypi-graph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPypiClient, type PypiClient } from '../src';
import {
  expectCode,
  fastRetry,
  json,
  projectJson,
  startServer,
  type TestServer,
  testConfig,
} from './helpers';

let dir: string;
let ca: string;
let serverCert: { key: string; cert: string };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pypi-client-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  // A CA, and a certificate for 127.0.0.1 signed by it.
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=pypi-graph test CA',
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  );
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  ca = await readFile(path.join(dir, 'ca.pem'), 'utf8');
  serverCert = {
    key: await readFile(path.join(dir, 'server.key'), 'utf8'),
    cert: await readFile(path.join(dir, 'server.pem'), 'utf8'),
  };
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function httpsServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = https.createServer(serverCert, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const requests: string[] = [];
  server.on('request', (req) => requests.push(req.url ?? ''));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `https://127.0.0.1:${port}`, requests };
}

function client(pypiUrl: string, env: Record<string, string> = {}, options = {}): PypiClient {
  const c = createPypiClient(testConfig(pypiUrl, env), { retry: fastRetry, ca, ...options });
  closers.push(() => c.close());
  return c;
}

async function plainServer(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  closers.push(() => s.close());
  return s;
}

describe('redirects', () => {
  it('follows https → https, never https → http (insecure-redirect), whatever host it names', async () => {
    const plain = await plainServer((_req, res) => json(res, projectJson('demo')));
    const secure = await httpsServer((req, res) => {
      if (req.url === '/pypi/Demo/json') {
        res.writeHead(301, { location: '/pypi/demo/json' });
        res.end();
      } else if (req.url === '/pypi/down/json') {
        res.writeHead(302, { location: `${plain.url}/pypi/demo/json` });
        res.end();
      } else json(res, projectJson('demo'));
    });
    // The plain server is an allowed files host: only the downgrade refuses the redirect.
    const c = client(secure.url, { PYPI_FILES_HOSTS: plain.host });
    expect((await c.getProjectJson('Demo')).name).toBe('demo');
    expect(secure.requests).toEqual(['/pypi/Demo/json', '/pypi/demo/json']);

    const err = await expectCode(c.getProjectJson('down'), 'insecure-redirect');
    expect(err.retryable).toBe(false);
    expect(err.hint).toMatch(/https/);
    expect(plain.requests).toEqual([]); // nothing went out in the clear
    // http → http stays allowed (the local PyPI server is plain http).
    const local = client(plain.url);
    expect((await local.getProjectJson('demo')).name).toBe('demo');
  });

  it('trusts only the CA it was given, besides the system roots', async () => {
    const secure = await httpsServer((_req, res) => json(res, projectJson('demo')));
    const untrusting = createPypiClient(testConfig(secure.url, { HTTP_ATTEMPTS: '1' }), { retry: fastRetry });
    closers.push(() => untrusting.close());
    const err = await expectCode(untrusting.getProjectJson('demo'), 'tls-error');
    expect(err.hint).toMatch(/certificate/);
    expect((await client(secure.url).getProjectJson('demo')).name).toBe('demo');
  });
});

describe('the total deadline of a request', () => {
  it('ends a body that drips a byte every 50 ms, which the per-chunk timeout never catches', async () => {
    const body = JSON.stringify(projectJson('demo'));
    let most = 0;
    const drip = await plainServer((_req, res) => {
      // Each request from the start: an answer read as it arrives is refused at its first bad byte.
      let written = 0;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      const timer = setInterval(() => {
        if (res.destroyed || written >= body.length) return clearInterval(timer);
        res.write(body[written++]);
        most = Math.max(most, written);
      }, 50);
      res.on('close', () => clearInterval(timer));
    });
    // Each byte comes well within HTTP_TIMEOUT_MS; the whole answer would take ~25 s.
    const c = client(drip.url, { HTTP_TIMEOUT_MS: '1000', HTTP_DEADLINE_MS: '1500', HTTP_ATTEMPTS: '2' });
    const t0 = performance.now();
    const err = await expectCode(c.getProjectJson('demo'), 'http-timeout');
    const took = performance.now() - t0;
    expect(err.details).toMatchObject({ deadlineMs: 1500, phase: 'deadline' });
    expect(err.hint).toMatch(/HTTP_DEADLINE_MS/);
    // Two attempts of 1.5 s each, not 2 × 25 s.
    expect(took).toBeGreaterThanOrEqual(2900);
    expect(took).toBeLessThan(6000);
    expect(drip.requests).toHaveLength(2);
    expect(most).toBeLessThan(body.length);
  });

  it('leaves a caller abort an abort, and a fast answer alone', async () => {
    const ok = await plainServer((_req, res) => json(res, projectJson('demo')));
    const c = client(ok.url, { HTTP_DEADLINE_MS: '1000' });
    expect((await c.getProjectJson('demo')).name).toBe('demo');
    await expectCode(c.getProjectJson('demo', { signal: AbortSignal.abort() }), 'aborted');
  });
});

describe('a host name that does not resolve', () => {
  // RFC 6761: .invalid never resolves.
  const NOWHERE = 'http://pypi-graph-test.invalid:8080';

  it('fails at once with dns-error and a hint, is not retried, and is not asked again for the TTL', async () => {
    const c = client(NOWHERE, { HTTP_ATTEMPTS: '5' }, { dnsFailureTtlMs: 1_000 });
    const t0 = performance.now();
    const first = await expectCode(c.getProjectJson('demo'), 'dns-error');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(first.hint).toMatch(/PYPI_URL .*resolver/);
    expect(first.details).toMatchObject({ host: 'pypi-graph-test.invalid', cached: false });
    expect(c.stats()).toMatchObject({ requests: 1, retries: 0 }); // one lookup, no retry

    // Within the TTL: the remembered failure, without a lookup or a request.
    const again = await expectCode(c.getSimpleProject('demo'), 'dns-error');
    expect(again.details).toMatchObject({ cached: true });
    expect(c.stats().requests).toBe(1);

    // After it: asked again.
    await new Promise((r) => setTimeout(r, 1_100));
    await expectCode(c.getProjectJson('demo'), 'dns-error');
    expect(c.stats().requests).toBe(2);
  });

  it('is retryable for the job and a fault of the machine, not of a file', async () => {
    const c = client(NOWHERE);
    const err = await expectCode(c.getProjectJson('demo'), 'dns-error');
    expect(err.retryable).toBe(true);
    expect(isEnvironmentFault(err.code)).toBe(true);
  });
});
