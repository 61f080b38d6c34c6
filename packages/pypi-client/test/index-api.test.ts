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
