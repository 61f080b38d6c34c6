import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PypiServer, startPypiServer } from '../src/index';
import { FIXTURES, fixture, get, getJson, md5, python, pythonJson, sha256 } from './helpers';

// Conformance of the JSON API (/pypi/<project>/json, /pypi/<project>/<version>/json).

interface FileJson {
  filename: string;
  url: string;
  digests: { md5: string; sha256: string; blake2b_256: string };
  md5_digest: string;
  packagetype: string;
  python_version: string;
  size: number;
  upload_time: string;
  upload_time_iso_8601: string;
  requires_python: string | null;
  yanked: boolean;
  yanked_reason: string | null;
  has_sig: boolean;
  comment_text: string;
}
interface ProjectJson {
  info: Record<string, unknown> & {
    name: string;
    version: string;
    yanked: boolean;
    yanked_reason: string | null;
  };
  last_serial: number;
  releases?: Record<string, FileJson[]>;
  urls: FileJson[];
  vulnerabilities: unknown[];
}

let server: PypiServer;
let base: string;

beforeAll(async () => {
  server = await startPypiServer({ dir: FIXTURES });
  base = server.url;
});
afterAll(() => server.close());

describe('/pypi/<project>/json', () => {
  it('describes the project: info, releases, urls, last_serial, digests computed from the bytes', async () => {
    const { res, json } = await getJson<ProjectJson>(`${base}/pypi/Foo_Bar/json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-pypi-last-serial')).toBe(String(json.last_serial));
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(json.info.name).toBe('Foo_Bar');
    expect(json.info.version).toBe('0.2');
    expect(json.vulnerabilities).toEqual([]);
    expect(Object.keys(json.releases!)).toEqual(['0.1', '0.2']);
    expect(json.urls.map((u) => u.filename)).toEqual(['Foo_Bar-0.2-py2.py3-none-any.whl', 'Foo_Bar-0.2.tgz']);
    expect(json.urls).toEqual(json.releases!['0.2']);
    const names = Object.values(json.releases!).flatMap((files) => files.map((f) => f.filename));
    const blake = await pythonJson<Record<string, string>>(
      `import hashlib, json, sys
print(json.dumps({p.rsplit('/', 1)[1]: hashlib.blake2b(open(p, 'rb').read(), digest_size=32).hexdigest() for p in sys.argv[1:]}))`,
      names.map((n) => `${FIXTURES}/${n}`),
    );
    for (const f of Object.values(json.releases!).flat()) {
      const bytes = fixture(f.filename);
      expect(f.digests).toEqual({ md5: md5(bytes), sha256: sha256(bytes), blake2b_256: blake[f.filename] });
      expect(f.md5_digest).toBe(md5(bytes));
      expect(f.size).toBe(bytes.length);
      // files.pythonhosted.org layout: /packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>
      const b2 = blake[f.filename]!;
      expect(f.url).toBe(`${base}/packages/${b2.slice(0, 2)}/${b2.slice(2, 4)}/${b2.slice(4)}/${f.filename}`);
      expect(f.has_sig).toBe(false);
      expect(f.comment_text).toBe('');
    }
    const wheel = json.urls[0]!;
    expect(wheel.packagetype).toBe('bdist_wheel');
    expect(wheel.python_version).toBe('py2.py3');
    expect(wheel.upload_time).toBe('2020-04-01T00:10:00');
    expect(wheel.upload_time_iso_8601).toBe('2020-04-01T00:10:00Z');
    const sdist = json.urls[1]!;
    expect(sdist.packagetype).toBe('sdist');
    expect(sdist.python_version).toBe('source');
  });

  it('serializes exactly as warehouse does (sort_keys, compact, ensure_ascii)', async () => {
    const body = await (await get(`${base}/pypi/cafe/json`)).text();
    const theirs = await python(
      'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True, separators=(",", ":")), end="")',
      [body],
    );
    expect(body).toBe(theirs);
    expect(body).toContain('"summary":"Caf\\u00e9 au lait"');
  });

  it("redirects any other spelling to the project's own name (301), keeping the version, as warehouse does", async () => {
    for (const [from, to] of [
      ['/pypi/foo-bar/json', '/pypi/Foo_Bar/json'],
      ['/pypi/foo_bar/0.2/json', '/pypi/Foo_Bar/0.2/json'],
      ['/pypi/acme-interface/json', '/pypi/acme.interface/json'],
      ['/pypi/django-like/json/', '/pypi/Django-Like/json/'],
    ]) {
      const res = await get(`${base}${from}`);
      expect(res.status, from).toBe(301);
      expect(res.headers.get('location'), from).toBe(`${base}${to}`);
    }
    // The project's own spelling is served without a redirect.
    for (const path of ['/pypi/Foo_Bar/json', '/pypi/acme.interface/1.1/json', '/pypi/Django-Like/json/']) {
      expect((await get(`${base}${path}`)).status, path).toBe(200);
    }
  });

  it('answers {"message": "Not Found"} for unknown or removed projects and versions', async () => {
    for (const path of [
      '/pypi/nope/json',
      '/pypi/gone-project/json',
      '/pypi/Foo_Bar/9.9/json',
      '/pypi/shrinking/1.1/json',
    ]) {
      const res = await get(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).toBe('{"message":"Not Found"}');
    }
  });

  it('picks the latest release like warehouse: not yanked, not a pre-release, highest version', async () => {
    const latest = async (p: string) =>
      (await getJson<ProjectJson>(`${base}/pypi/${p}/json`)).json.info.version;
    expect(await latest('Django-Like')).toBe('4.0'); // 4.1rc1 is a pre-release
    expect(await latest('acme.interface')).toBe('1.1'); // 2.0b1 is a pre-release
    expect(await latest('yanky')).toBe('1.1'); // 1.0 is yanked
    expect(await latest('oldstyle')).toBe('1.0'); // "2004d" is not PEP 440
    expect(await latest('setuptools')).toBe('66.1.1');
  });

  it('keeps a release whose files were all removed as an empty list, drops removed releases', async () => {
    const { json } = await getJson<ProjectJson>(`${base}/pypi/shrinking/json`);
    expect(
      Object.fromEntries(Object.entries(json.releases!).map(([v, fs]) => [v, fs.map((f) => f.filename)])),
    ).toEqual({
      '1.0': ['shrinking-1.0.tar.gz'],
      '1.2': [],
    });
    expect(json.info.version).toBe('1.2');
    expect(json.urls).toEqual([]);
  });

  it('reports PEP 592 yanks on info and on files', async () => {
    const { json } = await getJson<ProjectJson>(`${base}/pypi/yanky/json`);
    const files = Object.values(json.releases!).flat();
    const byName = Object.fromEntries(files.map((f) => [f.filename, [f.yanked, f.yanked_reason]]));
    expect(byName).toEqual({
      'yanky-1.0.tar.gz': [true, 'broken build'],
      'yanky-1.1-py3-none-any.whl': [true, null],
      'yanky-1.1.tar.gz': [false, null],
    });
    expect([json.info.yanked, json.info.yanked_reason]).toEqual([false, null]);
    const v10 = (await getJson<ProjectJson>(`${base}/pypi/yanky/1.0/json`)).json;
    expect([v10.info.yanked, v10.info.yanked_reason]).toEqual([true, 'broken build']);
  });

  it('takes info from the release metadata (Requires-Python, Requires-Dist, extras)', async () => {
    const { json } = await getJson<ProjectJson>(`${base}/pypi/Django-Like/3.2/json`);
    expect(json.info.requires_python).toBe('>=3.6');
    expect(json.info.requires_dist).toEqual(['asgiref>=3.3.2', 'pytz', 'sqlparse']);
    expect(json.info.release_url).toBe(`${base}/project/Django-Like/3.2/`);
    const acme = (await getJson<ProjectJson>(`${base}/pypi/acme.interface/2.0b1/json`)).json;
    expect(acme.info.requires_dist).toEqual([
      'setuptools>=60',
      'sphinx ; extra == "docs"',
      'typing-extensions ; python_version < "3.10"',
    ]);
    expect(acme.info.provides_extra).toEqual(['docs']);
  });
});

describe('/pypi/<project>/<version>/json', () => {
  it('describes one release, without `releases`, matching the version canonically', async () => {
    const { json } = await getJson<ProjectJson>(`${base}/pypi/acme.interface/2.0.0b1/json`);
    expect(json.info.version).toBe('2.0b1');
    expect(json.releases).toBeUndefined();
    expect(json.urls.map((u) => u.filename)).toEqual(['acme_interface-2.0b1.tar.gz']);
    const legacy = (await getJson<ProjectJson>(`${base}/pypi/oldstyle/2004d/json`)).json;
    expect(legacy.urls.map((u) => u.filename)).toEqual(['oldstyle-2004d.tar.bz2']);
  });

  it('falls back to the file name for broken archives', async () => {
    const { json } = await getJson<ProjectJson>(`${base}/pypi/brokenpkg/json`);
    expect(json.info.name).toBe('brokenpkg');
    expect(Object.keys(json.releases!)).toEqual(['1.0']);
    expect(json.urls.map((u) => [u.filename, u.python_version])).toEqual([
      ['brokenpkg-1.0-py3-none-any.whl', 'py3'],
      ['brokenpkg-1.0.tar.gz', 'source'],
    ]);
    expect(json.urls[1]!.digests.sha256).toBe(sha256(fixture('brokenpkg-1.0.tar.gz')));
  });
});
