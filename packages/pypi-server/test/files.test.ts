import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PypiServer, startPypiServer } from '../src/index';
import { FIXTURES, fixture, get, getJson, python, pythonJson, rawRequest, sha256 } from './helpers';

// The files host: downloads, HEAD, ETag/If-None-Match, Range, PEP 658 .metadata files.

interface Listing {
  files: Array<{
    filename: string;
    url: string;
    hashes: { sha256: string };
    'core-metadata': false | { sha256: string };
  }>;
}

let server: PypiServer;
const urls = new Map<string, string>();

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  for (const p of server.index.projectList) {
    const { json } = await getJson<Listing>(`${server.url}/simple/${p.normalized}/`, {
      Accept: 'application/vnd.pypi.simple.v1+json',
    });
    for (const f of json.files) urls.set(f.filename, f.url);
  }
});
afterAll(() => server.close());

const url = (filename: string) => {
  const u = urls.get(filename);
  if (!u) throw new Error(`no URL for ${filename}`);
  return u;
};

describe('downloads', () => {
  it('serves every listed file with the bytes on disk', async () => {
    // 29 archives minus shrinking's removed file, release and emptied release, and Gone_Project.
    expect(urls.size).toBe(25);
    for (const [filename, u] of urls) {
      const res = await get(u);
      expect(res.status, filename).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      const body = Buffer.from(await res.arrayBuffer());
      expect(sha256(body), filename).toBe(sha256(fixture(filename)));
      expect(res.headers.get('content-length')).toBe(String(body.length));
    }
  });

  it('serves a non-ASCII file name percent-encoded, as PyPI does', async () => {
    const u = url('café-1.0.tar.gz');
    expect(u).toMatch(/\/caf%C3%A9-1\.0\.tar\.gz$/);
    // An independent client: Python's urllib downloads and hashes it.
    const digest = await python(
      'import hashlib, sys, urllib.request; print(hashlib.sha256(urllib.request.urlopen(sys.argv[1]).read()).hexdigest(), end="")',
      [u],
    );
    expect(digest).toBe(sha256(fixture('café-1.0.tar.gz')));
  });

  it('answers 404 for removed files, wrong hash directories and unknown names', async () => {
    const u = url('shrinking-1.0.tar.gz');
    expect((await get(u.replace('/shrinking-1.0.tar.gz', '/shrinking-1.1.tar.gz'))).status).toBe(404);
    const b2 = await python(
      'import hashlib, sys; print(hashlib.blake2b(open(sys.argv[1], "rb").read(), digest_size=32).hexdigest(), end="")',
      [`${FIXTURES}/shrinking-1.0-py3-none-any.whl`],
    );
    const removed = `${server.url}/packages/${b2.slice(0, 2)}/${b2.slice(2, 4)}/${b2.slice(4)}/shrinking-1.0-py3-none-any.whl`;
    expect((await get(removed)).status).toBe(404);
    expect((await get(u.replace(/\/packages\/../, '/packages/00'))).status).toBe(404);
    expect((await get(`${server.url}/packages/aa/bb/cc/nope-1.0.tar.gz`)).status).toBe(404);
  });
});

describe('HEAD and conditional requests', () => {
  it('answers HEAD with the headers of GET and no body', async () => {
    const u = url('Foo_Bar-0.1.zip');
    const res = await rawRequest(u, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(fixture('Foo_Bar-0.1.zip').length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers['last-modified']).toBe('Sat, 01 Feb 2020 00:00:00 GMT');
    expect(res.body.length).toBe(0);
  });

  it('answers If-None-Match with 304 (strong ETag, weak comparison)', async () => {
    const u = url('Foo_Bar-0.1.zip');
    const etag = (await get(u, {}, 'HEAD')).headers.get('etag')!;
    expect((await get(u, { 'If-None-Match': etag })).status).toBe(304);
    expect((await get(u, { 'If-None-Match': `W/${etag}` })).status).toBe(304);
    expect((await get(u, { 'If-None-Match': `"other", ${etag}` })).status).toBe(304);
    expect((await get(u, { 'If-None-Match': '"other"' })).status).toBe(200);
  });
});

describe('ranges', () => {
  const name = 'setuptools-65.5.0-py3-none-any.whl';
  let bytes: Buffer;
  beforeAll(() => {
    bytes = fixture(name);
  });

  it('serves absolute, open and suffix ranges with 206 and Content-Range', async () => {
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 100],
      ['bytes=1000-', 1000, bytes.length],
      ['bytes=-22', bytes.length - 22, bytes.length],
      ['bytes=10-10', 10, 11],
      [`bytes=5-${bytes.length + 500}`, 5, bytes.length],
    ] as const) {
      const res = await rawRequest(url(name), { headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers['content-range'], range).toBe(`bytes ${start}-${end - 1}/${bytes.length}`);
      expect(res.headers['content-length'], range).toBe(String(end - start));
      expect(res.body.equals(bytes.subarray(start, end)), range).toBe(true);
    }
  });

  it('answers 416 with Content-Range: bytes */size when unsatisfiable', async () => {
    for (const range of [`bytes=${bytes.length}-`, 'bytes=-0']) {
      const res = await rawRequest(url(name), { headers: { Range: range } });
      expect(res.status, range).toBe(416);
      expect(res.headers['content-range'], range).toBe(`bytes */${bytes.length}`);
    }
  });

  it('answers several ranges, or a stale If-Range, with the full body', async () => {
    const multi = await rawRequest(url(name), { headers: { Range: 'bytes=0-1,10-11' } });
    expect(multi.status).toBe(200);
    expect(multi.body.length).toBe(bytes.length);
    const stale = await rawRequest(url(name), { headers: { Range: 'bytes=0-1', 'If-Range': '"stale"' } });
    expect(stale.status).toBe(200);
    const etag = (await get(url(name), {}, 'HEAD')).headers.get('etag')!;
    const fresh = await rawRequest(url(name), { headers: { Range: 'bytes=0-1', 'If-Range': etag } });
    expect(fresh.status).toBe(206);
  });

  it('lets a zip reader fetch only the central directory (what the crawler does for wheels)', async () => {
    // Python reads the archive through HTTP range requests only, with a file-like object.
    server.resetStats();
    const names = await pythonJson<string[]>(
      `import io, json, sys, urllib.request, zipfile
class HttpFile(io.RawIOBase):
    def __init__(self, url):
        self.url, self.pos = url, 0
        req = urllib.request.Request(url, method="HEAD")
        self.size = int(urllib.request.urlopen(req).headers["Content-Length"])
    def seekable(self): return True
    def readable(self): return True
    def tell(self): return self.pos
    def seek(self, off, whence=0):
        self.pos = [off, self.pos + off, self.size + off][whence]
        return self.pos
    def readinto(self, b):
        if self.pos >= self.size: return 0
        end = min(self.pos + len(b), self.size) - 1
        req = urllib.request.Request(self.url, headers={"Range": "bytes=%d-%d" % (self.pos, end)})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206, r.status
            data = r.read()
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)
z = zipfile.ZipFile(io.BufferedReader(HttpFile(sys.argv[1]), 65536))
print(json.dumps([n for n in z.namelist() if n.endswith("METADATA")]))`,
      [url(name)],
    );
    expect(names).toEqual(['setuptools-65.5.0.dist-info/METADATA']);
    const sent = server.requestLog.filter((r) => r.path.endsWith(name) && r.status === 206);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(bytes.length / 2);
  });
});

describe('PEP 658 metadata files', () => {
  it('serves <file url>.metadata for wheels, with the advertised sha256', async () => {
    const { json } = await getJson<Listing>(`${server.url}/simple/django-like/`, {
      Accept: 'application/vnd.pypi.simple.v1+json',
    });
    const wheels = json.files.filter((f) => f.filename.endsWith('.whl'));
    expect(wheels).toHaveLength(3);
    for (const f of wheels) {
      const res = await get(`${f.url}.metadata`);
      expect(res.status, f.filename).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(f['core-metadata']).toEqual({ sha256: sha256(body) });
      const inside = await python(
        `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sys.stdout.write(z.read([n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]).decode())`,
        [`${FIXTURES}/${f.filename}`],
      );
      expect(body.toString('utf8')).toBe(inside);
    }
    const range = await rawRequest(`${wheels[0]!.url}.metadata`, { headers: { Range: 'bytes=0-15' } });
    expect(range.status).toBe(206);
    expect(range.body.toString()).toBe('Metadata-Version');
  });

  it('has no .metadata for sdists or for wheels without METADATA', async () => {
    expect((await get(`${url('Foo_Bar-0.2.tgz')}.metadata`)).status).toBe(404);
    expect((await get(`${url('brokenpkg-1.0-py3-none-any.whl')}.metadata`)).status).toBe(404);
  });
});
