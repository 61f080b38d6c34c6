import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PypiServer, startPypiServer } from '../src/index';
import { FIXTURES, fixture, get, getJson, pythonJson, rawRequest, sha256, XMLRPC_PRELUDE } from './helpers';

// Fault injection: each kind, `times`, `method`, and the admin endpoint.

let server: PypiServer;
let wheelUrl: string;
const WHEEL = 'Django_Like-3.2-py3-none-any.whl';

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  const { json } = await getJson<{ urls: Array<{ filename: string; url: string }> }>(
    `${server.url}/pypi/Django-Like/3.2/json`,
  );
  wheelUrl = json.urls.find((u) => u.filename === WHEEL)!.url;
});
afterEach(() => server.clearFaults());
afterAll(() => server.close());

describe('fault kinds', () => {
  it('429 sends Retry-After, then the rule is spent after `times`', async () => {
    server.setFaults([{ match: '^/simple/foo-bar/$', kind: '429', times: 2, retryAfter: 7 }]);
    for (let i = 0; i < 2; i++) {
      const res = await get(`${server.url}/simple/foo-bar/`);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('7');
    }
    expect((await get(`${server.url}/simple/foo-bar/`)).status).toBe(200);
    expect((await get(`${server.url}/simple/yanky/`)).status).toBe(200);
    expect(server.stats().byFault['429']).toBe(2);
  });

  it('503 with and without Retry-After; `method` limits the rule', async () => {
    server.setFaults([
      { match: '^/pypi/yanky/json$', kind: '503', method: 'HEAD' },
      { match: '^/pypi/yanky/json$', kind: '503', retryAfter: 3, times: 1 },
      { match: '^/pypi/Foo_Bar/json$', kind: '503' },
    ]);
    const head = await get(`${server.url}/pypi/yanky/json`, {}, 'HEAD');
    expect(head.status).toBe(503);
    expect(head.headers.get('retry-after')).toBeNull();
    const first = await get(`${server.url}/pypi/yanky/json`);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('3');
    expect((await get(`${server.url}/pypi/yanky/json`)).status).toBe(200);
    expect((await get(`${server.url}/pypi/Foo_Bar/json`)).status).toBe(503);
  });

  it('slow delays and throttles the body, which still arrives whole', async () => {
    server.setFaults([{ match: WHEEL, kind: 'slow', delayMs: 150, bytes: 512 }]);
    const started = Date.now();
    const res = await rawRequest(wheelUrl);
    const elapsed = Date.now() - started;
    const chunks = Math.ceil(fixture(WHEEL).length / 512);
    expect(elapsed).toBeGreaterThanOrEqual(chunks * 150 - 20);
    expect(res.status).toBe(200);
    expect(res.aborted).toBe(false);
    expect(sha256(res.body)).toBe(sha256(fixture(WHEEL)));
  });

  it('truncate announces the full Content-Length and closes after part of the body', async () => {
    server.setFaults([{ match: WHEEL, kind: 'truncate', bytes: 100, times: 1 }]);
    const res = await rawRequest(wheelUrl);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(fixture(WHEEL).length));
    expect(res.body.length).toBe(100);
    expect(res.aborted).toBe(true);
    // fetch() sees the broken body as an error
    server.setFaults([{ match: WHEEL, kind: 'truncate', times: 1 }]);
    await expect(get(wheelUrl).then((r) => r.arrayBuffer())).rejects.toThrow();
    expect(sha256(Buffer.from(await (await get(wheelUrl)).arrayBuffer()))).toBe(sha256(fixture(WHEEL)));
  });

  it('wrong-bytes serves different bytes of the same length (only a digest catches it)', async () => {
    server.setFaults([{ match: WHEEL, kind: 'wrong-bytes' }]);
    const res = await get(wheelUrl);
    const body = Buffer.from(await res.arrayBuffer());
    const good = fixture(WHEEL);
    expect(res.status).toBe(200);
    expect(body.length).toBe(good.length);
    expect(sha256(body)).not.toBe(sha256(good));
    let differing = 0;
    for (let i = 0; i < good.length; i++) if (body[i] !== good[i]) differing++;
    expect(differing).toBe(1);
  });

  it('malformed-json answers 200 with a body that does not parse', async () => {
    server.setFaults([{ match: '^/pypi/.*/json$', kind: 'malformed-json', times: 1 }]);
    const res = await get(`${server.url}/pypi/Foo_Bar/json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const text = await res.text();
    expect(() => JSON.parse(text)).toThrow();
    expect((await get(`${server.url}/pypi/Foo_Bar/json`)).status).toBe(200);
  });

  it('xmlrpc-rate-limit answers the PyPI rate-limit fault', async () => {
    server.setFaults([{ match: '^/pypi$', kind: 'xmlrpc-rate-limit', times: 1 }]);
    const results = await pythonJson<Array<[number, string] | null>>(
      `${XMLRPC_PRELUDE}
print(json.dumps([fault(lambda: proxy.changelog_last_serial()) for _ in range(2)]))`,
      [server.url],
    );
    expect(results[0]).toEqual([
      -32500,
      'HTTPTooManyRequests: The action could not be performed because there were too many requests by the client. Limit may reset in 1 seconds.',
    ]);
    expect(results[1]).toBeNull();
  });

  it('rejects invalid rules', () => {
    expect(() => server.setFaults([{ match: '[', kind: '429' }])).toThrow(/regular expression/);
    expect(() =>
      server.setFaults([
        { match: '.', kind: 'teapot' } as unknown as Parameters<PypiServer['setFaults']>[0][0],
      ]),
    ).toThrow(/invalid/);
  });
});

describe('admin endpoint', () => {
  it('sets, lists and clears faults across processes, and reports stats', async () => {
    const set = await fetch(`${server.url}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ rules: [{ match: '^/simple/$', kind: '503', times: 1 }] }),
    });
    expect(set.status).toBe(200);
    const listed = (await (await fetch(`${server.url}/_admin/faults`)).json()) as { rules: unknown[] };
    expect(listed.rules).toEqual([{ match: '^/simple/$', kind: '503', times: 1, remaining: 1 }]);
    expect((await get(`${server.url}/simple/`)).status).toBe(503);
    expect((await get(`${server.url}/simple/`)).status).toBe(200);

    const bad = await fetch(`${server.url}/_admin/faults`, { method: 'POST', body: '[{"kind":"nope"}]' });
    expect(bad.status).toBe(400);

    await fetch(`${server.url}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify([{ match: '.', kind: '429' }]),
    });
    expect((await get(`${server.url}/simple/`)).status).toBe(429);
    expect((await fetch(`${server.url}/_admin/faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await get(`${server.url}/simple/`)).status).toBe(200);

    await fetch(`${server.url}/_admin/stats`, { method: 'DELETE' });
    const body = Buffer.from(await (await get(wheelUrl)).arrayBuffer());
    await get(`${server.url}/simple/yanky/`);
    const stats = (await (await fetch(`${server.url}/_admin/stats`)).json()) as {
      requests: number;
      bytesSent: number;
      byRoute: Record<string, number>;
      byPath: Record<string, { requests: number; bytes: number }>;
    };
    expect(stats.requests).toBe(2);
    expect(stats.byRoute).toEqual({ file: 1, 'simple-project': 1 });
    const path = decodeURIComponent(new URL(wheelUrl).pathname);
    expect(stats.byPath[`GET ${path}`]).toEqual({ requests: 1, bytes: body.length });
    expect(stats.bytesSent).toBeGreaterThan(body.length);
  });
});
