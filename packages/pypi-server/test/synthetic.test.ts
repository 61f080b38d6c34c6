import { describe, expect, it } from 'vitest';
import { startPypiServer } from '../src/index';
import { FIXTURES, get, getJson, pythonJson, sha256 } from './helpers';

// Synthetic mode: deterministic from the seed, valid archives, and big.

const JSON_ACCEPT = { Accept: 'application/vnd.pypi.simple.v1+json' };

interface Detail {
  files: Array<{
    filename: string;
    url: string;
    hashes: { sha256: string };
    size: number;
    yanked: boolean | string;
  }>;
  versions: string[];
}

async function snapshot(url: string, projects: string[]) {
  const index = await (await get(`${url}/simple/`, JSON_ACCEPT)).text();
  const pages: Record<string, string> = {};
  const bytes: Record<string, string> = {};
  for (const p of projects) {
    const body = await (await get(`${url}/simple/${p}/`, JSON_ACCEPT)).text();
    pages[p] = body.replaceAll(url, 'BASE');
    for (const f of (JSON.parse(body) as Detail).files) {
      const data = Buffer.from(await (await get(f.url)).arrayBuffer());
      expect(sha256(data), f.filename).toBe(f.hashes.sha256);
      expect(data.length, f.filename).toBe(f.size);
      bytes[f.filename] = sha256(data);
    }
  }
  return { index, pages, bytes };
}

describe('synthetic index', () => {
  it('is the same for the same seed, byte for byte, and different for another seed', async () => {
    const spec = 'projects=300,files-per-project=5,seed=42';
    const a = await startPypiServer({ synthetic: spec });
    const b = await startPypiServer({ synthetic: spec });
    const c = await startPypiServer({ synthetic: 'projects=300,files-per-project=5,seed=43' });
    try {
      const names = a.index.projectList.filter((_, i) => i % 50 === 0).map((p) => p.normalized);
      const sa = await snapshot(a.url, names);
      const sb = await snapshot(b.url, names);
      expect(sb).toEqual(sa);
      expect(Object.keys(sa.bytes).length).toBeGreaterThanOrEqual(names.length * 4);
      expect(c.index.projectList.map((p) => p.name)).not.toEqual(a.index.projectList.map((p) => p.name));
      expect(a.lastSerial).toBe(b.lastSerial);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('mixes sdists and wheels, name styles, pre-releases and yanks', async () => {
    const s = await startPypiServer({ synthetic: 'projects=400,files-per-project=6,seed=7' });
    try {
      const names = s.index.projectList.map((p) => p.name);
      expect(names.some((n) => n.includes('.'))).toBe(true);
      expect(names.some((n) => n.includes('_'))).toBe(true);
      expect(names.some((n) => /[A-Z]/.test(n))).toBe(true);
      const files = [...s.index.files.values()];
      expect(files.length).toBe(400 * 6);
      const kinds = new Set(files.map((f) => f.filename.replace(/^.*?(\.tar\.gz|\.zip|\.whl)$/, '$1')));
      expect(kinds).toEqual(new Set(['.tar.gz', '.zip', '.whl']));
      const releases = s.index.projectList.flatMap((p) => p.releases);
      expect(releases.some((r) => r.prerelease)).toBe(true);
      expect(releases.some((r) => r.yanked)).toBe(true);
      expect(releases.filter((r) => r.yanked).length).toBeLessThan(releases.length / 5);
    } finally {
      await s.close();
    }
  });

  it('serves archives Python can open, whose metadata matches the index', async () => {
    const s = await startPypiServer({
      synthetic: 'projects=40,files-per-project=4,seed=5,payload-bytes=70000',
    });
    try {
      const urls: string[] = [];
      const expected: Array<[string, string]> = [];
      for (const p of s.index.projectList.slice(0, 12)) {
        const { json } = await getJson<Detail>(`${s.url}/simple/${p.normalized}/`, JSON_ACCEPT);
        for (const f of json.files) {
          urls.push(f.url);
          const release = p.releases.find((r) => r.files.some((x) => x.filename === f.filename))!;
          expected.push([p.name, release.version]);
          expect(f.size).toBeGreaterThan(70_000);
        }
      }
      const found = await pythonJson<Array<[string, string]>>(
        `import io, json, sys, tarfile, urllib.request, zipfile
from email.parser import BytesParser
out = []
for url in sys.argv[1:]:
    data = urllib.request.urlopen(url).read()
    name = url.rsplit("/", 1)[1]
    if name.endswith(".tar.gz"):
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            meta = t.extractfile([m for m in t.getmembers() if m.name.endswith("/PKG-INFO")][0]).read()
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            assert z.testzip() is None
            meta = z.read([n for n in z.namelist() if n.endswith(("/PKG-INFO", ".dist-info/METADATA"))][0])
    msg = BytesParser().parsebytes(meta)
    out.append([msg["Name"], msg["Version"]])
print(json.dumps(out))`,
        urls,
      );
      expect(found).toEqual(expected);
    } finally {
      await s.close();
    }
  });

  it('starts 20,000 projects × 5 files in seconds and serves the index', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    const s = await startPypiServer({ synthetic: 'projects=20000,files-per-project=5' });
    const startMs = Date.now() - started;
    try {
      const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
      expect(startMs).toBeLessThan(10_000);
      expect(heapMb).toBeLessThan(500);
      expect(s.index.files.size).toBe(100_000);
      const t = Date.now();
      const { json } = await getJson<{ projects: unknown[] }>(`${s.url}/simple/`, JSON_ACCEPT);
      expect(json.projects).toHaveLength(20_000);
      const { json: detail } = await getJson<Detail>(
        `${s.url}/simple/${s.index.projectList[12345]!.normalized}/`,
        JSON_ACCEPT,
      );
      expect(detail.files).toHaveLength(5);
      expect(Date.now() - t).toBeLessThan(5_000);
      console.info(
        `synthetic 20000×5: start ${startMs} ms, heap +${heapMb.toFixed(0)} MB, serial ${s.lastSerial}`,
      );
    } finally {
      await s.close();
    }
  });

  it('starts 30,000 projects × 5 files (150,000 uploads, once a stack overflow at start-up)', async () => {
    // Regression: the uploads were appended with push(...array), one call argument per upload,
    // and V8 threw "Maximum call stack size exceeded" at about 120,000 of them.
    const s = await startPypiServer({ synthetic: 'projects=30000,files-per-project=5' });
    try {
      expect(s.index.files.size).toBe(150_000);
      const { json } = await getJson<{ projects: unknown[] }>(`${s.url}/simple/`, JSON_ACCEPT);
      expect(json.projects).toHaveLength(30_000);
    } finally {
      await s.close();
    }
  });

  it('combines with a folder', async () => {
    const s = await startPypiServer({ dir: FIXTURES, synthetic: 'projects=10,files-per-project=2' });
    try {
      expect(s.index.projects.has('foo-bar')).toBe(true);
      expect(s.index.projects.size).toBe(20);
      expect((await get(`${s.url}/pypi/Foo_Bar/json`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
