// Issue 10, point 5: `pnpm dashboard` answers only to its own names (DNS rebinding) and asks for
// credentials whenever it listens beyond loopback. A real HTTP client (node:http, which lets a
// test choose the Host header as a browser led by a rebinding page would send it), the test
// Redis, and a real `pnpm dashboard` process.
import http from 'node:http';
import { type Dashboard, startDashboard } from '@pypi-graph/cli';
import { silentLogger } from '@pypi-graph/core';
import { redisUrl, startCli, uniqueName, watch } from '@pypi-graph/test-support';
import { afterEach, describe, expect, it } from 'vitest';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET `path` from 127.0.0.1:`port` with the given Host header (none when null) and credentials. */
function get(port: number, path: string, host: string | null, auth?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (host !== null) headers.host = host;
    if (auth !== undefined) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    const req = http.request({ host: '127.0.0.1', port, path, headers, setHost: host !== null }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const boards: Dashboard[] = [];
afterEach(async () => {
  for (const b of boards.splice(0)) await b.close();
});

async function board(host: string, extra: Record<string, unknown> = {}): Promise<number> {
  const b = await startDashboard({
    config: { redisUrl: await redisUrl(), queuePrefix: uniqueName('dash'), ...extra },
    logger: silentLogger,
    port: 0,
    host,
  });
  boards.push(b);
  return Number(new URL(b.url).port);
}

describe('the dashboard on loopback', () => {
  it('answers to its address and localhost, refuses any other Host name (DNS rebinding)', async () => {
    const port = await board('127.0.0.1');
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, '127.0.0.1:3000', `[::1]:${port}`]) {
      const page = await get(port, '/', host);
      expect(page.status, host).toBe(200);
      expect(page.body).toContain('<title>pypi-graph (');
    }
    // What a browser sends after evil.example was re-pointed at 127.0.0.1.
    for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`]) {
      const page = await get(port, '/api/queues', host);
      expect(page.status, host).toBe(403);
      expect(page.body).not.toContain('queues');
    }
    expect((await get(port, '/', null)).status).toBe(400);
  });

  it('asks for the credentials when they are set, even on loopback', async () => {
    const port = await board('127.0.0.1', { dashboardUser: 'ops', dashboardPassword: 's3cret-pass' });
    const none = await get(port, '/', `127.0.0.1:${port}`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="pypi-graph dashboard"/);
    expect((await get(port, '/', `127.0.0.1:${port}`, 'ops:wrong')).status).toBe(401);
    expect((await get(port, '/', `127.0.0.1:${port}`, 'ops:s3cret-pass')).status).toBe(200);
  });
});

describe('the dashboard beyond loopback', () => {
  it('refuses to start without credentials, with a code and a hint', async () => {
    const err = await board('0.0.0.0').then(
      () => undefined,
      (e: unknown) => e as { code?: string; hint?: string },
    );
    expect(err?.code).toBe('config-invalid');
    expect(err?.hint).toMatch(/DASHBOARD_USER and DASHBOARD_PASSWORD/);
    const half = await board('0.0.0.0', { dashboardUser: 'ops' }).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(half?.code).toBe('config-invalid');
  });

  it('with credentials: a login, its IP addresses and DASHBOARD_HOSTS answered, other names refused', async () => {
    const port = await board('0.0.0.0', {
      dashboardUser: 'ops',
      dashboardPassword: 's3cret-pass',
      dashboardHosts: ['dashboard.internal'],
    });
    const auth = 'ops:s3cret-pass';
    expect((await get(port, '/api/queues', `127.0.0.1:${port}`)).status).toBe(401);
    const api = await get(port, '/api/queues', `127.0.0.1:${port}`, auth);
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body)).toHaveProperty('queues');
    expect((await get(port, '/', `10.1.2.3:${port}`, auth)).status).toBe(200);
    expect((await get(port, '/', `dashboard.internal:${port}`, auth)).status).toBe(200);
    // A rebinding page gets nothing, credentials or not (the browser might have them cached).
    expect((await get(port, '/', `evil.example:${port}`, auth)).status).toBe(403);
  });
});

describe('pnpm dashboard', () => {
  it('--host 0.0.0.0 without DASHBOARD_PASSWORD: exits 1 with the code and the hint; with it, serves behind a login', async () => {
    const redis = await redisUrl();
    const prefix = uniqueName('dashc');
    const refused = watch(
      startCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], { REDIS_URL: redis, LOG_LEVEL: 'silent' }),
    );
    expect(await refused.exited).toBe(1);
    expect(refused.out.stderr).toContain('error [config-invalid]: the dashboard would listen on 0.0.0.0');
    expect(refused.out.stderr).toMatch(/^hint: set DASHBOARD_USER and DASHBOARD_PASSWORD/m);

    const child = startCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], {
      REDIS_URL: redis,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      DASHBOARD_USER: 'ops',
      DASHBOARD_PASSWORD: 's3cret-pass',
    });
    const w = watch(child);
    try {
      const [, port] = await w.waitFor('stdout', /^dashboard: http:\/\/0\.0\.0\.0:(\d+)\/ .*login ops\)$/m);
      expect((await get(Number(port), '/', `127.0.0.1:${port}`)).status).toBe(401);
      const page = await get(Number(port), '/', `127.0.0.1:${port}`, 'ops:s3cret-pass');
      expect(page.body).toContain(`<title>pypi-graph (${prefix})</title>`);
    } finally {
      child.kill('SIGTERM');
      expect(await w.exited, w.out.stderr).toBe(0);
    }
  });
});
