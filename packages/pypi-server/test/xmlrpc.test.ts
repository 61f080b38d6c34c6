import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANGELOG_PAGE, type PypiServer, startPypiServer } from '../src/index';
import { FIXTURES, get, pythonJson, rawRequest, XMLRPC_PRELUDE } from './helpers';

// XML-RPC conformance, checked with the host Python's xmlrpc.client as the client.

type Row = [string, string | null, number, string, number];
const ts = (iso: string) => Date.parse(iso) / 1000;

let server: PypiServer;

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
});
afterAll(() => server.close());

describe('changelog', () => {
  it('synthesizes warehouse journal rows in time order with serials 1…N', async () => {
    const { last, rows, tail } = await pythonJson<{ last: number; rows: Row[]; tail: Row[] }>(
      `${XMLRPC_PRELUDE}
print(json.dumps({"last": proxy.changelog_last_serial(), "rows": proxy.changelog_since_serial(0),
                  "tail": proxy.changelog_since_serial(proxy.changelog_last_serial() - 2)}))`,
      [server.url],
    );
    expect(last).toBe(server.lastSerial);
    expect(rows.map((r) => r[4])).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]![2]).toBeGreaterThanOrEqual(rows[i - 1]![2]);
    expect(tail.map((r) => r[4])).toEqual([last - 1, last]);

    const find = (name: string, action: string) => rows.find((r) => r[0] === name && r[3] === action);
    // A new project: create (version None), add Owner, new release, add file — same second.
    const t = ts('2020-02-01T00:00:00Z');
    const created = rows.findIndex((r) => r[0] === 'Foo_Bar' && r[3] === 'create');
    expect(rows.slice(created, created + 4).map((r) => [r[0], r[1], r[2], r[3]])).toEqual([
      ['Foo_Bar', null, t, 'create'],
      ['Foo_Bar', null, t, 'add Owner pypi-graph'],
      ['Foo_Bar', '0.1', t, 'new release'],
      ['Foo_Bar', '0.1', t, 'add source file Foo_Bar-0.1.zip'],
    ]);
    expect(find('Foo_Bar', 'add py2.py3 file Foo_Bar-0.2-py2.py3-none-any.whl')?.slice(1, 3)).toEqual([
      '0.2',
      ts('2020-04-01T00:10:00Z'),
    ]);
    expect(find('cafe', 'add source file café-1.0.tar.gz')?.[1]).toBe('1.0');
    expect(
      find(
        'acme.interface',
        'add cp311 file acme.interface-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      ),
    ).toBeDefined();
    // Upload with microseconds: the changelog has whole seconds.
    expect(find('acme.interface', 'add py3 file acme_interface-1.1-py3-none-any.whl')?.[2]).toBe(
      ts('2020-06-15T08:31:12Z'),
    );
    expect(find('yanky', 'yank release')?.slice(1, 3)).toEqual(['1.0', ts('2020-09-15T00:00:00Z')]);
    expect(find('shrinking', 'remove file shrinking-1.0-py3-none-any.whl')?.slice(1, 3)).toEqual([
      '1.0',
      ts('2021-04-01T00:00:00Z'),
    ]);
    expect(find('shrinking', 'remove release')?.slice(1, 3)).toEqual(['1.1', ts('2021-04-02T00:00:00Z')]);
    expect(find('Gone_Project', 'remove project')?.slice(1, 3)).toEqual([null, ts('2021-05-01T00:00:00Z')]);
    // A broken archive still has its upload (name and version from the file name).
    expect(find('brokenpkg', 'add source file brokenpkg-1.0.tar.gz')?.slice(1, 3)).toEqual([
      '1.0',
      ts('2020-12-01T00:00:00Z'),
    ]);
  });

  it('lists current projects with their last serial', async () => {
    const { packages, rows } = await pythonJson<{ packages: Record<string, number>; rows: Row[] }>(
      `${XMLRPC_PRELUDE}
print(json.dumps({"packages": proxy.list_packages_with_serial(), "rows": proxy.changelog_since_serial(0)}))`,
      [server.url],
    );
    const expected: Record<string, number> = {};
    for (const [name, , , , serial] of rows) expected[name] = serial;
    delete expected.Gone_Project;
    expect(packages).toEqual(expected);
    const project = (await (await get(`${server.url}/pypi/shrinking/json`)).json()) as {
      last_serial: number;
    };
    expect(project.last_serial).toBe(packages.shrinking);
  });
});

describe('errors', () => {
  it('answers faults the way warehouse does', async () => {
    const faults = await pythonJson<Record<string, [number, string] | null>>(
      `${XMLRPC_PRELUDE}
print(json.dumps({
  "unknown": fault(lambda: proxy.no_such_method()),
  "badType": fault(lambda: proxy.changelog_since_serial("5")),
  "missing": fault(lambda: proxy.changelog_since_serial()),
  "deprecated": fault(lambda: proxy.changelog(0)),
  "listPackages": fault(lambda: proxy.list_packages()),
  "ok": fault(lambda: proxy.changelog_since_serial(10**6)),
}))`,
      [server.url],
    );
    expect(faults.unknown).toEqual([-32601, 'server error; requested method not found']);
    expect(faults.badType).toEqual([-32602, 'client error; serial: Input should be a valid integer']);
    expect(faults.missing).toEqual([-32602, 'client error; serial: Missing required argument']);
    expect(faults.deprecated).toEqual([
      -32500,
      'ValueError: The changelog method has been deprecated, use changelog_since_serial instead.',
    ]);
    expect(faults.listPackages?.[1]).toMatch(
      /^RuntimeError: PyPI no longer supports the XMLRPC list_packages method/,
    );
    expect(faults.ok).toBeNull();
  });

  it('answers malformed XML with a parse-error fault that Python can read', async () => {
    const res = await rawRequest(`${server.url}/pypi`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml' },
      body: '<?xml version="1.0"?><methodCall><methodName>changelog_last_serial</methodName><params>',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
    const parsed = await pythonJson<[number, string]>(
      `import json, sys, xmlrpc.client
try:
    xmlrpc.client.loads(sys.argv[1])
except xmlrpc.client.Fault as f:
    print(json.dumps([f.faultCode, f.faultString]))`,
      [res.body.toString('utf8')],
    );
    expect(parsed).toEqual([-32700, 'parse error; not well formed']);
  });

  it('serves /RPC2 and /pypi/ as well, and only POST', async () => {
    const last = await pythonJson<number[]>(
      `import json, sys, xmlrpc.client
print(json.dumps([xmlrpc.client.ServerProxy(sys.argv[1] + p).changelog_last_serial() for p in ("/RPC2", "/pypi/")]))`,
      [server.url],
    );
    expect(last).toEqual([server.lastSerial, server.lastSerial]);
    expect((await get(`${server.url}/pypi`)).status).toBe(405);
  });
});

describe('rate limit', () => {
  it('answers -32500 HTTPTooManyRequests over --xmlrpc-rate calls per second', async () => {
    const limited = await startPypiServer({ dir: FIXTURES, xmlrpcRate: 2 });
    try {
      const results = await pythonJson<Array<[number, string] | null>>(
        `${XMLRPC_PRELUDE}
print(json.dumps([fault(lambda: proxy.changelog_last_serial()) for _ in range(5)]))`,
        [limited.url],
      );
      expect(results.slice(0, 2)).toEqual([null, null]);
      expect(results[2]).toEqual([
        -32500,
        'HTTPTooManyRequests: The action could not be performed because there were too many requests by the client. Limit may reset in 1 seconds.',
      ]);
      // The window moves: after a second the client may call again.
      await new Promise((r) => setTimeout(r, 1100));
      const again = await pythonJson<[number, string] | null>(
        `${XMLRPC_PRELUDE}
print(json.dumps(fault(lambda: proxy.changelog_last_serial())))`,
        [limited.url],
      );
      expect(again).toBeNull();
    } finally {
      await limited.close();
    }
  });
});

describe('paging', () => {
  it(`returns at most ${CHANGELOG_PAGE} rows per call, and the next page from the last serial`, async () => {
    // 7,000 projects × 7 files: create, owner, 4 releases, 7 files = 13 rows each → 91,000 rows.
    const big = await startPypiServer({ synthetic: 'projects=7000,files-per-project=7,seed=3' });
    try {
      expect(big.lastSerial).toBeGreaterThan(CHANGELOG_PAGE);
      const pages = await pythonJson<{ last: number; pages: Array<[number, number, number]> }>(
        `${XMLRPC_PRELUDE}
last = proxy.changelog_last_serial()
pages, since = [], 0
while True:
    rows = proxy.changelog_since_serial(since)
    if not rows:
        break
    pages.append([len(rows), rows[0][4], rows[-1][4]])
    since = rows[-1][4]
print(json.dumps({"last": last, "pages": pages}))`,
        [big.url],
      );
      expect(pages.last).toBe(big.lastSerial);
      expect(pages.pages[0]).toEqual([CHANGELOG_PAGE, 1, CHANGELOG_PAGE]);
      expect(pages.pages[1]).toEqual([big.lastSerial - CHANGELOG_PAGE, CHANGELOG_PAGE + 1, big.lastSerial]);
      expect(pages.pages).toHaveLength(2);
    } finally {
      await big.close();
    }
  });
});
