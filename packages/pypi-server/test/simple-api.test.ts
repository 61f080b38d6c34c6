import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PypiServer, startPypiServer } from '../src/index';
import { FIXTURES, fixture, get, getJson, python, pythonJson, sha256 } from './helpers';

// Conformance of /simple/ (PEP 503, 592, 629, 658/714, 691, 700) against the fixture index.

let server: PypiServer;
let base: string;
const JSON_ACCEPT = { Accept: 'application/vnd.pypi.simple.v1+json' };

interface DetailJson {
  meta: { 'api-version': string; '_last-serial': number };
  name: string;
  versions: string[];
  files: Array<{
    filename: string;
    url: string;
    hashes: { sha256: string };
    'requires-python': string | null;
    size: number;
    'upload-time': string;
    yanked: boolean | string;
    'core-metadata': false | { sha256: string };
    'dist-info-metadata': false | { sha256: string };
    'data-dist-info-metadata': false | { sha256: string };
  }>;
}

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  base = server.url;
});
afterAll(() => server.close());

describe('/simple/ index', () => {
  it('serves HTML by default, listing current projects only', async () => {
    const res = await get(`${base}/simple/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('vary')).toBe('Accept');
    expect(res.headers.get('x-pypi-last-serial')).toBe(String(server.lastSerial));
    const html = await res.text();
    expect(html).toContain('<meta name="pypi:repository-version" content="1.3">');
    expect(html).toContain('<a href="/simple/foo-bar/">Foo_Bar</a>');
    expect(html).toContain('<a href="/simple/acme-interface/">acme.interface</a>');
    expect(html).toContain('<a href="/simple/django-like/">Django-Like</a>');
    expect(html).not.toContain('gone-project');
    const hrefs = [...html.matchAll(/href="\/simple\/([^/]+)\/"/g)].map((m) => m[1]);
    expect(hrefs).toEqual([...hrefs].sort());
    expect(hrefs).toHaveLength(10);
  });

  it('serves PEP 691 JSON with _last-serial per project', async () => {
    const { res, json } = await getJson<{
      meta: Record<string, unknown>;
      projects: Array<{ name: string; '_last-serial': number }>;
    }>(`${base}/simple/`, JSON_ACCEPT);
    expect(res.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
    expect(json.meta).toEqual({ 'api-version': '1.3', '_last-serial': server.lastSerial });
    const serials = await pythonJson<Record<string, number>>(
      'import json, sys, xmlrpc.client; print(json.dumps(xmlrpc.client.ServerProxy(sys.argv[1] + "/pypi").list_packages_with_serial()))',
      [base],
    );
    expect(Object.fromEntries(json.projects.map((p) => [p.name, p['_last-serial']]))).toEqual(serials);
  });

  it('negotiates per PEP 691: q-values, latest aliases, ?format= and 406', async () => {
    const type = async (headers: Record<string, string>, query = '') =>
      (await get(`${base}/simple/foo-bar/${query}`, headers)).headers.get('content-type');
    expect(await type({ Accept: 'application/vnd.pypi.simple.latest+json' })).toBe(
      'application/vnd.pypi.simple.v1+json',
    );
    expect(await type({ Accept: 'application/vnd.pypi.simple.v1+html' })).toBe(
      'application/vnd.pypi.simple.v1+html; charset=utf-8',
    );
    expect(await type({ Accept: 'application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.8' })).toBe(
      'text/html; charset=utf-8',
    );
    expect(await type({}, '?format=application/vnd.pypi.simple.v1%2Bjson')).toBe(
      'application/vnd.pypi.simple.v1+json',
    );
    expect((await get(`${base}/simple/foo-bar/`, { Accept: 'application/json' })).status).toBe(406);
    expect((await get(`${base}/simple/`, { Accept: 'image/png' })).status).toBe(406);
    expect((await get(`${base}/simple/foo-bar/?format=text/plain`)).status).toBe(406);
  });
});

describe('/simple/<project>/', () => {
  it('redirects non-normalized names and missing slashes with 301', async () => {
    for (const [from, to] of [
      ['/simple/Foo_Bar/', '/simple/foo-bar/'],
      ['/simple/foo.bar/', '/simple/foo-bar/'],
      ['/simple/foo-bar', '/simple/foo-bar/'],
      ['/simple/ACME.interface', '/simple/acme-interface/'],
      ['/simple', '/simple/'],
      [
        '/simple/Foo_Bar/?format=application/vnd.pypi.simple.v1%2Bjson',
        '/simple/foo-bar/?format=application/vnd.pypi.simple.v1%2Bjson',
      ],
    ]) {
      const res = await get(`${base}${from}`);
      expect(res.status, from).toBe(301);
      expect(res.headers.get('location'), from).toBe(`${base}${to}`);
    }
  });

  it('answers 404 for unknown and removed projects', async () => {
    expect((await get(`${base}/simple/nope/`)).status).toBe(404);
    expect((await get(`${base}/simple/gone-project/`)).status).toBe(404);
    expect((await get(`${base}/simple/Gone_Project/`)).status).toBe(404);
  });

  it('lists files with hashes, sizes, upload times, requires-python, yanks and core metadata (JSON)', async () => {
    const { res, json } = await getJson<DetailJson>(`${base}/simple/acme-interface/`, JSON_ACCEPT);
    expect(res.status).toBe(200);
    expect(json.meta['api-version']).toBe('1.3');
    expect(res.headers.get('x-pypi-last-serial')).toBe(String(json.meta['_last-serial']));
    expect(json.name).toBe('acme-interface');
    expect(json.versions).toEqual(['1.0', '1.1', '2.0b1']);
    expect(json.files.map((f) => f.filename)).toEqual([
      'acme.interface-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      'acme.interface-1.0.tar.gz',
      'acme.interface-1.1.tar.gz',
      'acme_interface-1.1-py3-none-any.whl',
      'acme_interface-2.0b1.tar.gz',
    ]);
    for (const f of json.files) {
      const bytes = fixture(f.filename);
      expect(f.hashes.sha256, f.filename).toBe(sha256(bytes));
      expect(f.size, f.filename).toBe(bytes.length);
      expect(f.url.startsWith(`${base}/packages/`)).toBe(true);
      expect(f.url.endsWith(`/${f.filename}`)).toBe(true);
    }
    const wheel = json.files[3]!;
    expect(wheel['upload-time']).toBe('2020-06-15T08:31:12.345678Z');
    expect(wheel['requires-python']).toBe('>=3.7,<4'); // manifest override
    expect(json.files[0]!['upload-time']).toBe('2020-03-01T10:05:00Z');
    expect(json.files[4]!['requires-python']).toBe('>=3.8');
    // PEP 658/714: the hash of the METADATA file inside each wheel, read by Python's zipfile.
    const metadataSha = await pythonJson<Record<string, string>>(
      `import hashlib, json, sys, zipfile
out = {}
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        name = [n for n in z.namelist() if n.endswith('.dist-info/METADATA')][0]
        out[path.rsplit('/', 1)[1]] = hashlib.sha256(z.read(name)).hexdigest()
print(json.dumps(out))`,
      [json.files[0]!.filename, json.files[3]!.filename].map((n) => `${FIXTURES}/${n}`),
    );
    for (const f of json.files) {
      const expected = metadataSha[f.filename] ? { sha256: metadataSha[f.filename] } : false;
      expect(f['core-metadata'], f.filename).toEqual(expected);
      expect(f['dist-info-metadata'], f.filename).toEqual(expected);
      expect(f['data-dist-info-metadata'], f.filename).toEqual(expected);
    }
  });

  it('serializes JSON exactly as warehouse does (sort_keys, compact separators)', async () => {
    const body = await (await get(`${base}/simple/cafe/`, JSON_ACCEPT)).text();
    const python_ = await python(
      'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True, separators=(",", ":")), end="")',
      [body],
    );
    expect(body).toBe(python_);
    expect(body).toContain('"filename":"caf\\u00e9-1.0.tar.gz"');
    expect(body).toContain('/caf%C3%A9-1.0.tar.gz"');
  });

  it('marks yanked files (PEP 592) with the reason when there is one', async () => {
    const { json } = await getJson<DetailJson>(`${base}/simple/yanky/`, JSON_ACCEPT);
    const yanked = Object.fromEntries(json.files.map((f) => [f.filename, f.yanked]));
    expect(yanked).toEqual({
      'yanky-1.0.tar.gz': 'broken build',
      'yanky-1.1-py3-none-any.whl': true,
      'yanky-1.1.tar.gz': false,
    });
    const html = await (await get(`${base}/simple/yanky/`)).text();
    expect(html).toMatch(
      /<a href="[^"]+\/yanky-1\.0\.tar\.gz#sha256=[0-9a-f]{64}" data-yanked="broken build" >yanky-1\.0\.tar\.gz<\/a>/,
    );
    expect(html).toMatch(
      /data-yanked="" data-dist-info-metadata="sha256=[0-9a-f]{64}" data-core-metadata="sha256=[0-9a-f]{64}">yanky-1\.1-py3-none-any\.whl</,
    );
    expect(html).toMatch(/#sha256=[0-9a-f]{64}" >yanky-1\.1\.tar\.gz</);
  });

  it('leaves out removed files and releases; versions only lists releases with files', async () => {
    const { json } = await getJson<DetailJson>(`${base}/simple/shrinking/`, JSON_ACCEPT);
    expect(json.files.map((f) => f.filename)).toEqual(['shrinking-1.0.tar.gz']);
    expect(json.versions).toEqual(['1.0']);
  });

  it('orders versions like packaging_legacy (non-PEP 440 first)', async () => {
    const { json } = await getJson<DetailJson>(`${base}/simple/oldstyle/`, JSON_ACCEPT);
    expect(json.versions).toEqual(['2004d', '1.0']);
    expect(json.files.map((f) => f.filename)).toEqual(['oldstyle-2004d.tar.bz2', 'oldstyle-1.0.tar.bz2']);
  });

  it('renders PEP 503 HTML with data attributes, escaped, and the serial comment', async () => {
    const res = await get(`${base}/simple/acme-interface/`);
    const html = await res.text();
    expect(html).toContain('<title>Links for acme-interface</title>');
    expect(html).toContain('<h1>Links for acme-interface</h1>');
    expect(html).toContain(`<!--SERIAL ${res.headers.get('x-pypi-last-serial')}-->`);
    const anchors = [...html.matchAll(/<a ([^>]*)>([^<]+)<\/a><br \/>/g)];
    expect(anchors.map((a) => a[2])).toHaveLength(5);
    for (const [, attrs, filename] of anchors) {
      expect(attrs).toContain(`#sha256=${sha256(fixture(filename!))}"`);
    }
    expect(html).toContain('data-requires-python="&gt;=3.7,&lt;4"');
    expect(html).toContain('data-requires-python="&gt;=3.8"');
    expect(anchors.filter((a) => a[1]!.includes('data-core-metadata="sha256=')).map((a) => a[2])).toEqual([
      'acme.interface-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      'acme_interface-1.1-py3-none-any.whl',
    ]);
  });

  it('parses with a third-party client: pip’s own HTML and JSON parsers agree', async () => {
    const result = await pythonJson<{ html: string[]; json: string[] }>(
      `import json, sys, urllib.request
from pip._internal.index.collector import IndexContent, parse_links
def links(accept):
    req = urllib.request.Request(sys.argv[1] + "/simple/foo-bar/", headers={"Accept": accept})
    with urllib.request.urlopen(req) as r:
        page = IndexContent(r.read(), r.headers["Content-Type"], encoding=None, url=r.geturl(), cache_link_parsing=False)
    return sorted(l.filename + " " + (l.hash or "") for l in parse_links(page))
print(json.dumps({"html": links("text/html"), "json": links("application/vnd.pypi.simple.v1+json")}))`,
      [base],
    );
    expect(result.json).toEqual(result.html);
    expect(result.json.map((l) => l.split(' ')[0])).toEqual([
      'Foo_Bar-0.1.zip',
      'Foo_Bar-0.2-py2.py3-none-any.whl',
      'Foo_Bar-0.2.tgz',
    ]);
    expect(result.json[0]!.split(' ')[1]).toBe(sha256(fixture('Foo_Bar-0.1.zip')));
  });
});
