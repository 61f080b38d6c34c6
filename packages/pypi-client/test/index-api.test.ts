import { afterEach, describe, expect, it } from 'vitest';
import { createPypiClient, type PypiClient } from '../src';
import {
  expectCode,
  fastRetry,
  type Handler,
  json,
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

async function setup(handler: Handler) {
  const server = await startServer(handler);
  const client = createPypiClient(testConfig(server.url), { retry: fastRetry });
  servers.push(server);
  clients.push(client);
  return { server, client };
}

const SHA = 'ab'.repeat(32);
const SIMPLE_TYPE = 'application/vnd.pypi.simple.v1+json';

// A PEP 691 page in the shape PyPI serves, with one bad entry of each kind.
const simplePage = {
  meta: { 'api-version': '1.1', '_last-serial': 41 },
  name: 'Demo.Pkg',
  versions: ['1.0', '2.0rc1'],
  files: [
    {
      filename: 'demo_pkg-1.0.tar.gz',
      url: '../../files/demo_pkg-1.0.tar.gz',
      hashes: { sha256: SHA.toUpperCase(), md5: '00' },
      'requires-python': '>=3.8',
      yanked: false,
      size: 1234,
      'upload-time': '2024-01-02T03:04:05.678901Z',
    },
    {
      filename: 'demo_pkg-1.0-py3-none-any.whl',
      url: 'https://files.example.invalid/packages/demo_pkg-1.0-py3-none-any.whl',
      hashes: { sha256: SHA },
      'core-metadata': { sha256: 'cd'.repeat(32) },
      yanked: 'broken build',
    },
    // PEP 714: the older key still counts when `core-metadata` is absent.
    {
      filename: 'demo_pkg-2.0rc1-py3-none-any.whl',
      url: '/files/demo_pkg-2.0rc1-py3-none-any.whl',
      hashes: {},
      'dist-info-metadata': true,
      yanked: '',
    },
    { filename: 'no-url.tar.gz', hashes: { sha256: SHA } },
    { filename: 'bad-hash.tar.gz', url: '/x', hashes: { sha256: 'nothex' } },
    { filename: 'bad-size.tar.gz', url: '/x', hashes: {}, size: -1 },
    { filename: 'bad-time.tar.gz', url: '/x', hashes: {}, 'upload-time': 'last tuesday' },
    { filename: 'bad-url.tar.gz', url: 'javascript:alert(1)', hashes: {} },
    'not an object',
  ],
};

describe('Simple API (PEP 691)', () => {
  it('asks for JSON at the normalized name and reads every field', async () => {
    const { client, server } = await setup((req, res) => {
      if (req.url !== '/simple/demo-pkg/') return void res.writeHead(404).end();
      json(res, simplePage, { 'content-type': SIMPLE_TYPE, 'x-pypi-last-serial': '42' });
    });
    const page = await client.getSimpleProject('Demo.Pkg');
    expect(server.requests[0]?.headers.accept).toBe(SIMPLE_TYPE);
    expect(page).toMatchObject({
      name: 'Demo.Pkg',
      url: `${server.url}/simple/demo-pkg/`,
      apiVersion: '1.1',
      lastSerial: 42,
      versions: ['1.0', '2.0rc1'],
      dropped: 6,
    });
    expect(page.files).toEqual([
      {
        filename: 'demo_pkg-1.0.tar.gz',
        url: `${server.url}/files/demo_pkg-1.0.tar.gz`,
        sha256: SHA,
        requiresPython: '>=3.8',
        yanked: false,
        size: 1234,
        uploadTime: '2024-01-02T03:04:05.678901Z',
        coreMetadata: false,
      },
      {
        filename: 'demo_pkg-1.0-py3-none-any.whl',
        url: 'https://files.example.invalid/packages/demo_pkg-1.0-py3-none-any.whl',
        sha256: SHA,
        requiresPython: null,
        yanked: 'broken build',
        size: null,
        uploadTime: null,
        coreMetadata: { sha256: 'cd'.repeat(32) },
      },
      {
        filename: 'demo_pkg-2.0rc1-py3-none-any.whl',
        url: `${server.url}/files/demo_pkg-2.0rc1-py3-none-any.whl`,
        sha256: null,
        requiresPython: null,
        yanked: true,
        size: null,
        uploadTime: null,
        coreMetadata: true,
      },
    ]);
    expect(client.stats().droppedEntries).toBe(6);
  });

  it('falls back to meta._last-serial and accepts api-version 1.0 pages without versions', async () => {
    const { client } = await setup((_req, res) =>
      json(
        res,
        { meta: { 'api-version': '1.0', '_last-serial': 5 }, name: 'x', files: [] },
        { 'content-type': SIMPLE_TYPE },
      ),
    );
    expect(await client.getSimpleProject('x')).toMatchObject({ lastSerial: 5, versions: null, files: [] });
  });

  it('rejects an HTML answer, an unknown major api-version and a malformed envelope', async () => {
    const { client } = await setup((req, res) => {
      if (req.url === '/simple/html/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<a href="x">x</a>');
      } else if (req.url === '/simple/v2/') {
        json(res, { meta: { 'api-version': '2.0' }, name: 'v2', files: [] }, { 'content-type': SIMPLE_TYPE });
      } else {
        json(
          res,
          { meta: { 'api-version': '1.0' }, name: 'x', files: 'nope' },
          { 'content-type': SIMPLE_TYPE },
        );
      }
    });
    await expectCode(client.getSimpleProject('html'), 'response-invalid');
    await expectCode(client.getSimpleProject('v2'), 'response-invalid');
    await expectCode(client.getSimpleProject('envelope'), 'response-invalid');
  });

  it('maps 404 to project-not-found', async () => {
    const { client } = await setup((_req, res) => void res.writeHead(404).end('Not Found'));
    const err = await expectCode(client.getSimpleProject('nope'), 'project-not-found');
    expect(err.retryable).toBe(false);
  });

  it('reads the root page', async () => {
    const { client } = await setup((req, res) => {
      if (req.url !== '/simple/') return void res.writeHead(404).end();
      json(
        res,
        {
          meta: { 'api-version': '1.1', '_last-serial': 9 },
          projects: [{ name: 'a', '_last-serial': 3 }, { name: 'b' }, { nom: 'c' }],
        },
        { 'content-type': SIMPLE_TYPE },
      );
    });
    expect(await client.getSimpleIndex()).toEqual({
      lastSerial: 9,
      projects: [
        { name: 'a', lastSerial: 3 },
        { name: 'b', lastSerial: null },
      ],
      dropped: 1,
    });
  });
});

describe('JSON API', () => {
  const file = (over: Record<string, unknown> = {}) => ({
    comment_text: '',
    digests: { sha256: SHA, md5: '0'.repeat(32), blake2b_256: '1'.repeat(64) },
    downloads: -1,
    filename: 'demo-1.0.tar.gz',
    has_sig: false,
    md5_digest: '0'.repeat(32),
    packagetype: 'sdist',
    python_version: 'source',
    requires_python: '>=3.7',
    size: 100,
    upload_time: '2020-01-02T03:04:05',
    upload_time_iso_8601: '2020-01-02T03:04:05.123456Z',
    url: 'https://files.example.invalid/packages/demo-1.0.tar.gz',
    yanked: false,
    yanked_reason: null,
    ...over,
  });

  it('reads releases and files, dropping malformed ones', async () => {
    const { client, server } = await setup((req, res) => {
      if (req.url !== '/pypi/Demo/json') return void res.writeHead(404).end();
      json(
        res,
        {
          info: { name: 'Demo', version: '2.0', summary: 'ignored' },
          last_serial: 77,
          releases: {
            '1.0': [file()],
            '2.0': [
              file({
                filename: 'demo-2.0-py3-none-any.whl',
                packagetype: 'bdist_wheel',
                python_version: 'py3',
                url: '/packages/demo-2.0-py3-none-any.whl',
                yanked: true,
                yanked_reason: 'oops',
              }),
              file({ digests: { md5: 'x' } }),
              file({ size: 'big' }),
            ],
            '3.0': 'not a list',
            '0.0': [],
          },
          urls: [],
        },
        { 'x-pypi-last-serial': '77' },
      );
    });
    const project = await client.getProjectJson('Demo');
    expect(server.requests[0]?.headers.accept).toBe('application/json');
    expect(project).toMatchObject({ name: 'Demo', version: '2.0', lastSerial: 77, dropped: 3 });
    expect([...project.releases.keys()]).toEqual(['1.0', '2.0', '0.0']);
    expect(project.releases.get('1.0')).toEqual([
      {
        filename: 'demo-1.0.tar.gz',
        url: 'https://files.example.invalid/packages/demo-1.0.tar.gz',
        sha256: SHA,
        packagetype: 'sdist',
        pythonVersion: 'source',
        size: 100,
        uploadTime: '2020-01-02T03:04:05.123456Z',
        requiresPython: '>=3.7',
        yanked: false,
        yankedReason: null,
      },
    ]);
    expect(project.releases.get('2.0')).toEqual([
      expect.objectContaining({
        url: `${server.url}/packages/demo-2.0-py3-none-any.whl`,
        packagetype: 'bdist_wheel',
        pythonVersion: 'py3',
        yanked: true,
        yankedReason: 'oops',
      }),
    ]);
  });

  it('rejects an answer without info or last_serial', async () => {
    const { client } = await setup((_req, res) => json(res, { info: { name: 'x' }, releases: {} }));
    await expectCode(client.getProjectJson('x'), 'response-invalid');
  });
});

describe('a project answer read as it arrives', () => {
  const file = (name: string) => ({
    filename: name,
    url: `/packages/${name}`,
    digests: { sha256: SHA },
    packagetype: 'sdist',
    python_version: 'source',
    size: 1,
  });

  /** Serves `body` as is, in pieces of `piece` bytes with a pause between them. */
  function raw(body: string, type: string, piece = 7) {
    return (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': type });
      const bytes = Buffer.from(body);
      let at = 0;
      const next = () => {
        if (at >= bytes.length) return void res.end();
        res.write(bytes.subarray(at, at + piece));
        at += piece;
        setImmediate(next);
      };
      next();
    };
  }

  it('keeps the releases in the order of the answer, and the last of a version given twice', async () => {
    const body = `{"info":{"name":"demo"},"releases":{"10":[${JSON.stringify(file('demo-10.tar.gz'))}],"2":[],"1.0":[${JSON.stringify(file('demo-1.0.tar.gz'))}],"2":[${JSON.stringify(file('demo-2.tar.gz'))}]},"last_serial":9}`;
    const { client } = await setup(raw(body, 'application/json'));
    const page = await client.getProjectJson('demo');
    expect([...page.releases.keys()]).toEqual(['10', '1.0', '2']);
    expect(page.releases.get('2')?.map((f) => f.filename)).toEqual(['demo-2.tar.gz']);
    expect(page.lastSerial).toBe(9);
  });

  it('refuses a JSON answer whose releases are missing, null or a list, or that breaks off or goes wrong midway', async () => {
    const bodies: Record<string, string> = {
      missing: '{"info":{"name":"x"},"last_serial":1}',
      null: '{"info":{"name":"x"},"last_serial":1,"releases":null}',
      list: `{"info":{"name":"x"},"last_serial":1,"releases":[[${JSON.stringify(file('x-1.tar.gz'))}]]}`,
      // Valid files first, then a broken byte: nothing of the answer is kept.
      broken: `{"info":{"name":"x"},"last_serial":1,"releases":{"1":[${JSON.stringify(file('x-1.tar.gz'))}],"2":[} }`,
      short: `{"info":{"name":"x"},"last_serial":1,"releases":{"1":[${JSON.stringify(file('x-1.tar.gz'))}]`,
    };
    const { client } = await setup((req, res) => {
      const key = (req.url ?? '').split('/')[2] ?? '';
      raw(bodies[key] ?? '', 'application/json')(req, res);
    });
    for (const key of Object.keys(bodies)) {
      const err = await expectCode(client.getProjectJson(key), 'response-invalid');
      expect(err.message, key).toMatch(
        key === 'broken' || key === 'short' ? /body is not JSON/ : /unexpected answer/,
      );
    }
  });

  it('refuses a Simple page whose files are missing, an object, or whose answer is cut short', async () => {
    const meta = '"meta":{"api-version":"1.1"},"name":"x"';
    const bodies: Record<string, string> = {
      missing: `{${meta}}`,
      object: `{${meta},"files":{"a":{"filename":"a","url":"/a","hashes":{}}}}`,
      short: `{${meta},"files":[{"filename":"a","url":"/a","hashes":{}}`,
    };
    const { client } = await setup((req, res) => {
      const key = (req.url ?? '').split('/')[2] ?? '';
      raw(bodies[key] ?? '', SIMPLE_TYPE)(req, res);
    });
    for (const key of Object.keys(bodies)) await expectCode(client.getSimpleProject(key), 'response-invalid');
  });

  it('reads a gzip answer as it arrives, and refuses one larger than HTTP_MAX_RESPONSE_BYTES once decoded', async () => {
    const { gzipSync } = await import('node:zlib');
    const releases = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`${i}.0`, [file(`big-${i}.0.tar.gz`)]]),
    );
    const body = gzipSync(JSON.stringify({ info: { name: 'big' }, last_serial: 3, releases }));
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(body);
    });
    servers.push(server);
    const roomy = createPypiClient(testConfig(server.url), { retry: fastRetry });
    const tight = createPypiClient(testConfig(server.url, { HTTP_MAX_RESPONSE_BYTES: '20000' }), {
      retry: fastRetry,
    });
    clients.push(roomy, tight);
    expect(body.length).toBeLessThan(20000);
    const page = await roomy.getProjectJson('big');
    expect(page.releases.size).toBe(300);
    expect(page.releases.get('299.0')?.[0]?.url).toBe(`${server.url}/packages/big-299.0.tar.gz`);
    await expectCode(tight.getProjectJson('big'), 'response-too-large');
  });
});
