import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DayChange, type PypiServer, presetCensus, startPypiServer } from '../src/index';
import { get, pythonJson, sha256, XMLRPC_PRELUDE } from './helpers';

// The PyPI-shaped preset (`--synthetic pypi[,scale=F]`), judged only by what it serves over
// HTTP: its shape, the agreement of every endpoint with the others and with the bytes, its
// determinism, and what advancing a day changes. The XML-RPC side and the archives are read
// by Python's own xmlrpc.client, hashlib, tarfile and zipfile.

const JSON_ACCEPT = { Accept: 'application/vnd.pypi.simple.v1+json' };
const SCALE = 0.001;
const SPEC = `pypi,scale=${SCALE}`;

interface JsonFile {
  filename: string;
  url: string;
  packagetype: string;
  python_version: string;
  size: number;
  digests: { sha256: string; md5: string; blake2b_256: string };
  upload_time_iso_8601: string;
  requires_python: string | null;
  yanked: boolean;
  yanked_reason: string | null;
}
interface JsonPage {
  info: { name: string; version: string; requires_dist: string[] | null };
  last_serial: number;
  releases: Record<string, JsonFile[]>;
}
interface SimpleFile {
  filename: string;
  url: string;
  hashes: { sha256: string };
  size: number;
  'upload-time': string;
  'requires-python': string | null;
  yanked: boolean | string;
  'core-metadata': false | { sha256: string };
  'dist-info-metadata': false | { sha256: string };
  'data-dist-info-metadata': false | { sha256: string };
}
interface SimplePage {
  meta: { '_last-serial': number; 'api-version': string };
  name: string;
  versions: string[];
  files: SimpleFile[];
}
type Row = [string, string | null, number, string, number];

const normalize = (name: string) => name.replace(/[-_.]+/g, '-').toLowerCase();

/** `list_packages_with_serial` and the whole changelog, through Python's xmlrpc.client. */
async function journal(url: string): Promise<{ listing: Record<string, number>; rows: Row[]; last: number }> {
  return pythonJson(
    `${XMLRPC_PRELUDE}
last = proxy.changelog_last_serial()
rows, since = [], 0
while True:
    page = proxy.changelog_since_serial(since)
    if not page:
        break
    rows += page
    since = page[-1][4]
print(json.dumps({"listing": proxy.list_packages_with_serial(), "rows": rows, "last": last}))`,
    [url],
  );
}

interface Served {
  json?: JsonPage;
  simple: SimplePage;
  jsonSerialHeader: string | null;
}

/** Every listed project's JSON API and Simple JSON pages (JSON is 404 for a project without releases). */
async function servedProjects(url: string, names: string[]): Promise<Map<string, Served>> {
  const out = new Map<string, Served>();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const n = normalize(name);
      const j = await get(`${url}/pypi/${encodeURIComponent(name)}/json`);
      const s = await get(`${url}/simple/${n}/`, JSON_ACCEPT);
      expect(s.status, n).toBe(200);
      const json = j.status === 200 ? ((await j.json()) as JsonPage) : undefined;
      if (!json) await j.arrayBuffer();
      out.set(n, {
        json,
        simple: (await s.json()) as SimplePage,
        jsonSerialHeader: j.headers.get('x-pypi-last-serial'),
      });
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return out;
}

describe('PyPI-shaped preset: shape', () => {
  let server: PypiServer;
  let log: Awaited<ReturnType<typeof journal>>;
  let projects: Map<string, Served>;
  beforeAll(async () => {
    server = await startPypiServer({ synthetic: SPEC });
    log = await journal(server.url);
    projects = await servedProjects(server.url, Object.keys(log.listing));
  }, 180_000);
  afterAll(async () => server?.close());

  it('has PyPI’s size per scale: ~736,000 projects, over ten files each', () => {
    const names = Object.keys(log.listing);
    expect(names.length).toBeGreaterThanOrEqual(736_000 * SCALE);
    expect(names.length).toBeLessThan(745_000 * SCALE);
    const files = [...projects.values()].reduce(
      (n, p) => n + Object.values(p.json?.releases ?? {}).reduce((m, fs) => m + fs.length, 0),
      0,
    );
    // About 10.8 million at scale 1 (readme.md); a small scale varies with its few big projects.
    expect(files / names.length).toBeGreaterThan(10);
    expect(files / names.length).toBeLessThan(25);
  });

  it('is what the census (for benchmarks) counts without serving it', () => {
    const census = presetCensus(SPEC);
    const jsons = [...projects.values()].flatMap((p) => (p.json ? [p.json] : []));
    const files = jsons.flatMap((j) => Object.values(j.releases).flat());
    expect(census).toMatchObject({
      projects: Object.keys(log.listing).length,
      empty: projects.size - jsons.length,
      releases: jsons.reduce((n, j) => n + Object.keys(j.releases).length, 0),
      files: files.length,
      wheels: files.filter((f) => f.packagetype === 'bdist_wheel').length,
      sdists: files.filter((f) => f.packagetype === 'sdist').length,
      journalRows: log.last,
    });
    expect(census.removed.projects).toBe(log.rows.filter((r) => r[3] === 'remove project').length);
    expect(census.removed.files).toBe(log.rows.filter((r) => r[3].startsWith('remove file ')).length);
  });

  it('has heavy-tailed releases per project: most 1–5, a few hundreds', () => {
    const counts = [...projects.values()]
      .map((p) => Object.keys(p.json?.releases ?? {}).length)
      .sort((a, b) => a - b);
    const median = counts[counts.length >> 1]!;
    const max = counts.at(-1)!;
    expect(median).toBeLessThanOrEqual(3);
    expect(counts.filter((c) => c >= 1 && c <= 5).length / counts.length).toBeGreaterThan(0.75);
    expect(max).toBeGreaterThan(200);
    expect(max / median).toBeGreaterThan(50);
  });

  it('has sdist-only old releases and dozens of wheels in recent releases of compiled projects', () => {
    const releases = [...projects.values()].flatMap((p) => Object.values(p.json?.releases ?? {}));
    const first = (fs: JsonFile[]) => fs.map((f) => f.upload_time_iso_8601).sort()[0]!;
    const old = releases.filter((fs) => fs.length > 0 && first(fs) < '2013-01-01');
    expect(old.length).toBeGreaterThan(5);
    expect(old.every((fs) => fs.every((f) => f.packagetype === 'sdist'))).toBe(true);
    const recent = releases.filter((fs) => fs.length > 0 && first(fs) >= '2023-01-01');
    const wheels = (fs: JsonFile[]) => fs.filter((f) => f.packagetype === 'bdist_wheel');
    const heavy = recent.filter((fs) => wheels(fs).length >= 20);
    expect(heavy.length).toBeGreaterThan(10);
    // Platform wheels of several CPythons and platforms, each with its own tags.
    const tags = new Set(heavy.flatMap((fs) => wheels(fs).map((f) => f.filename.split('-').at(-1)!)));
    expect([...tags].some((t) => t.includes('manylinux'))).toBe(true);
    expect([...tags].some((t) => t.includes('macosx_11_0_arm64'))).toBe(true);
    expect([...tags].some((t) => t.includes('win_amd64'))).toBe(true);
    // Most recent releases still have a source distribution.
    const withSdist = recent.filter((fs) => fs.some((f) => f.packagetype === 'sdist'));
    expect(withSdist.length / recent.length).toBeGreaterThan(0.8);
  });

  it('has yanked releases, and removed files, releases and projects that are no longer served', async () => {
    const releases = [...projects.values()].flatMap((p) => Object.values(p.json?.releases ?? {}));
    const yanked = releases.filter((fs) => fs.length > 0 && fs.every((f) => f.yanked));
    expect(yanked.length / releases.length).toBeGreaterThan(0.005);
    expect(yanked.some((fs) => fs[0]!.yanked_reason)).toBe(true);

    const actions = (prefix: string) => log.rows.filter((r) => r[3].startsWith(prefix));
    expect(actions('yank release').length).toBeGreaterThan(0);
    const removedFiles = actions('remove file ');
    const removedReleases = actions('remove release');
    const removedProjects = actions('remove project');
    expect(removedFiles.length).toBeGreaterThan(0);
    expect(removedReleases.length).toBeGreaterThan(0);
    expect(removedProjects.length).toBeGreaterThan(0);
    const served = new Set([...projects.values()].flatMap((p) => p.simple.files.map((f) => f.filename)));
    for (const r of removedFiles) expect(served.has(r[3].slice('remove file '.length))).toBe(false);
    for (const r of removedReleases) {
      expect(projects.get(normalize(r[0]))?.json?.releases[r[1]!], `${r[0]} ${r[1]}`).toBeUndefined();
    }
    for (const r of removedProjects) {
      expect(log.listing[r[0]]).toBeUndefined();
      expect((await get(`${server.url}/simple/${normalize(r[0])}/`)).status).toBe(404);
      expect((await get(`${server.url}/pypi/${normalize(r[0])}/json`)).status).toBe(404);
    }
  });

  it('has a changelog covering twenty years, at about 15,000 file events a day at scale 1', () => {
    const rows = log.rows;
    expect(rows.map((r) => r[4])).toEqual(rows.map((_, i) => i + 1));
    expect(rows.at(-1)![4]).toBe(log.last);
    for (let i = 1; i < rows.length; i++) expect(rows[i]![2]).toBeGreaterThanOrEqual(rows[i - 1]![2]);
    const base = Date.UTC(2025, 0, 1) / 1000;
    expect(rows[0]![2]).toBeLessThan(Date.UTC(2010, 0, 1) / 1000);
    expect(rows.at(-1)![2]).toBeLessThan(base);
    expect(rows.at(-1)![2]).toBeGreaterThan(base - 86_400);
    // The last 60 days before the base day, scaled back to PyPI's size.
    const recent = rows.filter((r) => r[2] >= base - 60 * 86_400);
    const perDay = (n: number) => n / 60 / SCALE;
    const fileEvents = recent.filter((r) => / file /.test(r[3])).length;
    expect(perDay(fileEvents)).toBeGreaterThan(9_000);
    expect(perDay(fileEvents)).toBeLessThan(22_000);
    expect(perDay(recent.length)).toBeGreaterThan(13_000);
    expect(perDay(recent.length)).toBeLessThan(32_000);
    // Spread over a few thousand projects a day (at scale 1).
    const projectDays = new Set(recent.map((r) => `${normalize(r[0])} ${Math.floor(r[2] / 86_400)}`));
    expect(perDay(projectDays.size)).toBeGreaterThan(1_500);
    expect(perDay(projectDays.size)).toBeLessThan(8_000);
  });

  it('spells names every way PyPI does, each project under one PEP 503 name', () => {
    const names = Object.keys(log.listing);
    expect(new Set(names.map(normalize)).size).toBe(names.length);
    expect(names.some((n) => n.includes('_'))).toBe(true);
    expect(names.some((n) => n.includes('.'))).toBe(true);
    expect(names.some((n) => n.includes('-'))).toBe(true);
    expect(names.some((n) => /[A-Z]/.test(n))).toBe(true);
    expect(names.some((n) => /^[a-z]+$/.test(n))).toBe(true);
    // Files that spell their project otherwise than its display name, and still name it.
    let otherwise = 0;
    for (const [n, p] of projects) {
      for (const f of p.simple.files) {
        const stem = f.filename.endsWith('.whl')
          ? f.filename.split('-')[0]!
          : /^(.+?)-\d/.exec(f.filename)![1]!;
        expect(normalize(stem), f.filename).toBe(n);
        if (stem !== p.simple.name && stem !== p.json?.info.name) otherwise++;
      }
    }
    expect(otherwise).toBeGreaterThan(100);
  });
});

describe('PyPI-shaped preset: every endpoint agrees', () => {
  let server: PypiServer;
  let log: Awaited<ReturnType<typeof journal>>;
  let sample: string[];
  let projects: Map<string, Served>;
  beforeAll(async () => {
    server = await startPypiServer({ synthetic: SPEC });
    log = await journal(server.url);
    const names = Object.keys(log.listing);
    // Every 25th project, and the one with the most journal rows.
    const rowsPer = new Map<string, number>();
    for (const r of log.rows) rowsPer.set(r[0], (rowsPer.get(r[0]) ?? 0) + 1);
    const busiest = names.reduce((a, b) => ((rowsPer.get(a) ?? 0) >= (rowsPer.get(b) ?? 0) ? a : b));
    sample = [...new Set([...names.filter((_, i) => i % 25 === 0), busiest])];
    projects = await servedProjects(server.url, sample);
  }, 180_000);
  afterAll(async () => server?.close());

  it('serials: listing, JSON API, Simple API, headers and the changelog name the same last serial', async () => {
    for (const name of sample) {
      const n = normalize(name);
      const p = projects.get(n)!;
      const mine = log.rows.filter((r) => normalize(r[0]) === n);
      const serial = mine.at(-1)![4];
      expect(log.listing[name], name).toBe(serial);
      expect(p.simple.meta['_last-serial'], name).toBe(serial);
      if (p.json) {
        expect(p.json.last_serial, name).toBe(serial);
        expect(p.jsonSerialHeader).toBe(String(serial));
      }
      const html = await get(`${server.url}/simple/${n}/`);
      expect(html.headers.get('x-pypi-last-serial')).toBe(String(serial));
      expect(await html.text()).toContain(`<!--SERIAL ${serial}-->`);
    }
  });

  it('files: replaying the changelog gives what the JSON and Simple APIs list, with the same times', () => {
    for (const name of sample) {
      const n = normalize(name);
      const p = projects.get(n)!;
      // Replay the project's rows: what should be served now.
      const live = new Map<string, Map<string, number>>(); // version → file → add timestamp
      const yanked = new Set<string>();
      for (const [, version, timestamp, action] of log.rows.filter((r) => normalize(r[0]) === n)) {
        if (action === 'new release') live.set(version!, new Map());
        else if (action.startsWith('add ') && action.includes(' file ')) {
          live.get(version!)!.set(action.slice(action.indexOf(' file ') + 6), timestamp);
        } else if (action.startsWith('remove file ')) live.get(version!)!.delete(action.slice(12));
        else if (action === 'remove release') live.delete(version!);
        else if (action === 'yank release') yanked.add(version!);
      }
      const fromJson = new Map(
        Object.entries(p.json?.releases ?? {}).map(([v, fs]) => [
          v,
          new Map(fs.map((f) => [f.filename, Math.floor(Date.parse(f.upload_time_iso_8601) / 1000)])),
        ]),
      );
      expect(fromJson, name).toEqual(p.json ? live : new Map());
      for (const [v, fs] of Object.entries(p.json?.releases ?? {})) {
        for (const f of fs) expect(f.yanked, f.filename).toBe(yanked.has(v));
      }
      // The Simple API lists the same files with the same facts.
      const simple = new Map(p.simple.files.map((f) => [f.filename, f]));
      const jsonFiles = Object.values(p.json?.releases ?? {}).flat();
      expect([...simple.keys()].sort()).toEqual(jsonFiles.map((f) => f.filename).sort());
      for (const f of jsonFiles) {
        const s = simple.get(f.filename)!;
        expect(s.hashes.sha256).toBe(f.digests.sha256);
        expect(s.size).toBe(f.size);
        expect(s.url).toBe(f.url);
        expect(s['upload-time']).toBe(f.upload_time_iso_8601);
        expect(s['requires-python']).toBe(f.requires_python);
        expect(s.yanked !== false).toBe(f.yanked);
        expect(s['core-metadata'] !== false).toBe(f.packagetype === 'bdist_wheel');
        expect(s['dist-info-metadata']).toEqual(s['core-metadata']);
        expect(s['data-dist-info-metadata']).toEqual(s['core-metadata']);
      }
      // Simple's versions are those with files (warehouse's query).
      expect([...p.simple.versions].sort()).toEqual(
        Object.entries(p.json?.releases ?? {})
          .flatMap(([v, fs]) => (fs.length ? [v] : []))
          .sort(),
      );
    }
  });

  it('bytes: every listed digest, size and PEP 658 hash matches what is served, HEAD and Range included', async () => {
    const files = sample.flatMap((name) => {
      const p = projects.get(normalize(name))!;
      return Object.entries(p.json?.releases ?? {}).flatMap(([version, fs]) =>
        fs.map((f) => ({
          ...f,
          version,
          project: normalize(name),
          simple: p.simple.files.find((s) => s.filename === f.filename)!,
        })),
      );
    });
    expect(files.length).toBeGreaterThan(100);
    // At most about 400 of them, spread over every sampled project's files.
    const every = Math.ceil(files.length / 400);
    files.splice(0, files.length, ...files.filter((_, i) => i % every === 0));
    const dir = mkdtempSync(join(tmpdir(), 'preset-'));
    try {
      const checks: Array<{
        path: string;
        file: string;
        kind: string;
        project: string;
        version: string;
        metadata?: string;
      }> = [];
      for (const [i, f] of files.entries()) {
        const res = await get(f.url);
        expect(res.status, f.filename).toBe(200);
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(bytes.length).toBe(f.size);
        expect(sha256(bytes), f.filename).toBe(f.digests.sha256);
        const path = join(dir, `${i}`);
        writeFileSync(path, bytes);
        const check: (typeof checks)[number] = {
          path,
          file: f.filename,
          kind: f.packagetype,
          project: f.project,
          version: f.version,
        };
        if (f.packagetype === 'bdist_wheel') {
          const meta = await get(`${f.url}.metadata`);
          expect(meta.status).toBe(200);
          const mb = Buffer.from(await meta.arrayBuffer());
          expect(sha256(mb)).toBe((f.simple['core-metadata'] as { sha256: string }).sha256);
          check.metadata = `${path}.metadata`;
          writeFileSync(check.metadata, mb);
        }
        if (i % 10 === 0) {
          const head = await get(f.url, {}, 'HEAD');
          expect(head.headers.get('content-length')).toBe(String(f.size));
          const range = await get(f.url, { Range: 'bytes=10-99' });
          expect(range.status).toBe(206);
          expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(10, 100))).toBe(true);
        }
        checks.push(check);
      }
      // Python opens every archive, checks md5/blake2b and each wheel's RECORD, and reads the metadata.
      const problems = await pythonJson<string[]>(
        `import base64, hashlib, io, json, re, sys, tarfile, zipfile
from email.parser import BytesParser
checks = json.load(open(sys.argv[1]))
digests = json.load(open(sys.argv[2]))
problems = []
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
for c in checks:
    data = open(c["path"], "rb").read()
    d = digests[c["file"]]
    if hashlib.md5(data).hexdigest() != d["md5"] or hashlib.blake2b(data, digest_size=32).hexdigest() != d["blake2b_256"]:
        problems.append(c["file"] + ": digest")
    name = c["file"]
    if name.endswith(".whl"):
        z = zipfile.ZipFile(io.BytesIO(data))
        if z.testzip() is not None: problems.append(name + ": zip")
        record = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")][0]
        for line in z.read(record).decode().splitlines():
            path, h, size = line.rsplit(",", 2)
            if h:
                algo, value = h.split("=", 1)
                got = base64.urlsafe_b64encode(hashlib.new(algo, z.read(path)).digest()).rstrip(b"=").decode()
                if got != value: problems.append(name + ": RECORD " + path)
        meta = z.read([n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0])
        if meta != open(c["metadata"], "rb").read(): problems.append(name + ": .metadata differs from METADATA")
    elif name.endswith(".zip"):
        z = zipfile.ZipFile(io.BytesIO(data))
        meta = z.read([n for n in z.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")][0])
    else:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            meta = t.extractfile([m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")][0]).read()
    msg = BytesParser().parsebytes(meta)
    if norm(msg["Name"]) != c["project"] or msg["Version"] != c["version"]:
        problems.append(name + ": metadata says " + msg["Name"] + " " + msg["Version"])
print(json.dumps(problems))`,
        [
          writeJson(dir, 'checks.json', checks),
          writeJson(dir, 'digests.json', Object.fromEntries(files.map((f) => [f.filename, f.digests]))),
        ],
      );
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('the HTML pages and the /simple/ index agree with the JSON forms', async () => {
    const index = (await (await get(`${server.url}/simple/`, JSON_ACCEPT)).json()) as {
      meta: { '_last-serial': number };
      projects: Array<{ name: string; '_last-serial': number }>;
    };
    expect(index.meta['_last-serial']).toBe(log.last);
    expect(Object.fromEntries(index.projects.map((p) => [p.name, p['_last-serial']]))).toEqual(log.listing);
    const normalized = index.projects.map((p) => normalize(p.name));
    expect(normalized).toEqual([...normalized].sort());
    const html = await (await get(`${server.url}/simple/`)).text();
    expect([...html.matchAll(/<a href="\/simple\/([^/]+)\/">/g)].map((m) => m[1])).toEqual(normalized);
    for (const name of sample.slice(0, 10)) {
      const n = normalize(name);
      const page = await (await get(`${server.url}/simple/${n}/`)).text();
      const links = [...page.matchAll(/<a href="([^"#]+)#sha256=([0-9a-f]{64})"[^>]*>([^<]+)<\/a>/g)];
      expect(links.map((m) => [m[1], m[2], m[3]])).toEqual(
        projects.get(n)!.simple.files.map((f) => [f.url, f.hashes.sha256, f.filename]),
      );
    }
  });
});

function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

describe('PyPI-shaped preset: determinism and days', () => {
  it('is the same bytes for the same seed, whatever the order of requests, and other names for another seed', async () => {
    const spec = 'pypi,scale=0.0005,seed=7';
    const a = await startPypiServer({ synthetic: spec });
    const b = await startPypiServer({ synthetic: spec });
    const c = await startPypiServer({ synthetic: 'pypi,scale=0.0005,seed=8' });
    try {
      const la = await journal(a.url);
      const names = Object.keys(la.listing).filter((_, i) => i % 15 === 0);
      const read = async (url: string, order: string[]) => {
        const out: Record<string, string> = {};
        for (const n of order) {
          const body = await (await get(`${url}/pypi/${encodeURIComponent(n)}/json`)).text();
          out[`json ${n}`] = body.replaceAll(url, 'BASE');
          out[`simple ${n}`] = (await (await get(`${url}/simple/${normalize(n)}/`)).text()).replaceAll(
            url,
            'BASE',
          );
          if (body.startsWith('{"info"')) {
            for (const fs of Object.values((JSON.parse(body) as JsonPage).releases)) {
              for (const f of fs)
                out[f.filename] = sha256(Buffer.from(await (await get(f.url)).arrayBuffer()));
            }
          }
        }
        out.index = await (await get(`${url}/simple/`)).text();
        return out;
      };
      // b is asked in the opposite order: nothing may depend on what was built first.
      const rb = await read(b.url, [...names].reverse());
      const ra = await read(a.url, names);
      expect(rb).toEqual(ra);
      expect(await journal(b.url)).toEqual(la);
      const lc = await journal(c.url);
      expect(Object.keys(lc.listing)).not.toEqual(Object.keys(la.listing));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  }, 180_000);

  it('advancing a day changes exactly what the new changelog rows say, and --day N serves the same', async () => {
    const spec = 'pypi,scale=0.0005';
    const server = await startPypiServer({ synthetic: spec });
    try {
      const before = await journal(server.url);
      const all = [...new Set([...Object.keys(before.listing)])];
      const s0 = await servedProjects(server.url, all);

      const advance = await fetch(`${server.url}/_admin/advance-day`, {
        method: 'POST',
        body: '{"days": 1}',
      });
      expect(advance.status).toBe(200);
      const change = (await advance.json()) as DayChange;
      expect(change).toMatchObject({ day: 1, asOf: '2025-01-02T00:00:00.000Z', fromSerial: before.last });
      const after = await journal(server.url);
      expect(after.last).toBe(change.lastSerial);
      const fresh = after.rows.slice(before.rows.length);
      expect(after.rows.slice(0, before.rows.length)).toEqual(before.rows);
      expect(fresh.length).toBe(change.events);
      expect(fresh.map((r) => r[4])).toEqual(fresh.map((_, i) => before.last + 1 + i));
      const day = Date.UTC(2025, 0, 1) / 1000;
      for (const r of fresh) expect(r[2] >= day && r[2] < day + 86_400).toBe(true);
      const named = new Set(fresh.map((r) => normalize(r[0])));
      expect(named.size).toBe(change.projects);
      expect(fresh.filter((r) => / file /.test(r[3])).length).toBeGreaterThan(0);

      // Serials moved exactly for the named projects; created and removed ones come and go.
      const s1 = await servedProjects(server.url, Object.keys(after.listing));
      for (const [name, serial] of Object.entries(after.listing)) {
        const n = normalize(name);
        if (named.has(n)) expect(serial).toBe(fresh.filter((r) => normalize(r[0]) === n).at(-1)![4]);
        else expect(serial, name).toBe(before.listing[name]);
      }
      const created = fresh.filter((r) => r[3] === 'create').map((r) => r[0]);
      const removed = fresh.filter((r) => r[3] === 'remove project').map((r) => r[0]);
      expect(Object.keys(after.listing).sort()).toEqual(
        [...Object.keys(before.listing).filter((n) => !removed.includes(n)), ...created].sort(),
      );
      // Every other project is served byte for byte as before; a named one as its rows say.
      const state = (p: Served | undefined) =>
        Object.fromEntries(
          Object.entries(p?.json?.releases ?? {}).map(([v, fs]) => [
            v,
            fs.map((f) => `${f.filename} ${f.yanked}`).sort(),
          ]),
        );
      for (const [n, p] of s1) {
        if (!named.has(n)) {
          expect(p, n).toEqual(s0.get(n));
          continue;
        }
        const expected = state(s0.get(n));
        const yanked = new Set<string>();
        for (const [, version, , action] of fresh.filter((r) => normalize(r[0]) === n && r[1] !== null)) {
          expected[version!] ??= [];
          const files = expected[version!]!;
          if (action.startsWith('add ')) files.push(`${action.slice(action.indexOf(' file ') + 6)} false`);
          else if (action.startsWith('remove file ')) {
            files.splice(
              files.findIndex((f) => f.startsWith(`${action.slice(12)} `)),
              1,
            );
          } else if (action === 'remove release') delete expected[version!];
          else if (action === 'yank release') yanked.add(version!);
        }
        // A yank covers every file of the release, whenever uploaded.
        for (const [v, files] of Object.entries(expected)) {
          expected[v] = files.map((f) => (yanked.has(v) ? f.replace(/ false$/, ' true') : f)).sort();
        }
        expect(state(p), n).toEqual(expected);
      }

      // Starting at day 1 serves the same as advancing to it.
      const direct = await startPypiServer({ synthetic: spec, day: 1 });
      try {
        expect(await journal(direct.url)).toEqual(after);
        const some = [...named].slice(0, 5);
        for (const n of some) {
          const a = (await (await get(`${server.url}/pypi/${n}/json`)).text()).replaceAll(server.url, 'BASE');
          const b = (await (await get(`${direct.url}/pypi/${n}/json`)).text()).replaceAll(direct.url, 'BASE');
          expect(b).toBe(a);
        }
        expect((await (await fetch(`${direct.url}/_admin/day`)).json()) as { day: number }).toMatchObject({
          day: 1,
          lastSerial: change.lastSerial,
        });
      } finally {
        await direct.close();
      }
    } finally {
      await server.close();
    }
  }, 300_000);

  it('refuses what it cannot do, with clear errors', async () => {
    await expect(startPypiServer({ synthetic: 'pypi,scale=0' })).rejects.toMatchObject({
      code: 'config-invalid',
    });
    await expect(startPypiServer({ synthetic: 'pypi,scale=fast' })).rejects.toMatchObject({
      code: 'config-invalid',
    });
    await expect(startPypiServer({ synthetic: 'pypi,sizes=3' })).rejects.toMatchObject({
      code: 'config-invalid',
    });
    await expect(startPypiServer({ synthetic: 'pypi', dir: '.' })).rejects.toMatchObject({
      code: 'config-invalid',
    });
    await expect(
      startPypiServer({ synthetic: 'projects=2,files-per-project=2', day: 1 }),
    ).rejects.toMatchObject({
      code: 'config-invalid',
    });
    const eager = await startPypiServer({ synthetic: 'projects=2,files-per-project=2' });
    const preset = await startPypiServer({ synthetic: 'pypi,scale=0.0001' });
    try {
      expect((await fetch(`${eager.url}/_admin/advance-day`, { method: 'POST' })).status).toBe(409);
      expect(() => eager.advanceDay()).toThrow(/only the PyPI-shaped preset/);
      expect(() => preset.index).toThrow(/holds no index in memory/);
      expect(
        (await fetch(`${preset.url}/_admin/advance-day`, { method: 'POST', body: '{"days": 0}' })).status,
      ).toBe(400);
      expect(preset.preset()).toMatchObject({ day: 0, scale: 0.0001 });
    } finally {
      await Promise.all([eager.close(), preset.close()]);
    }
  });
});

describe('request log', () => {
  it('writes one JSON line per request, which counts requests by kind like the stats', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'request-log-'));
    const file = join(dir, 'requests.ndjson');
    const server = await startPypiServer({ synthetic: 'pypi,scale=0.0002', requestLogFile: file });
    try {
      const { listing } = await journal(server.url);
      for (const name of Object.keys(listing).slice(0, 5)) {
        await (await get(`${server.url}/pypi/${encodeURIComponent(name)}/json`)).arrayBuffer();
        await (await get(`${server.url}/simple/${normalize(name)}/`, JSON_ACCEPT)).arrayBuffer();
      }
      await (await get(`${server.url}/simple/nothing-here/`)).arrayBuffer();
    } finally {
      await server.close();
    }
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            path: string;
            route: string;
            xmlrpcMethod?: string;
            status: number;
            bytes: number;
          },
      );
    const count = (f: (l: (typeof lines)[number]) => boolean) => lines.filter(f).length;
    expect(count((l) => l.xmlrpcMethod === 'changelog_since_serial')).toBeGreaterThanOrEqual(1);
    expect(count((l) => l.xmlrpcMethod === 'list_packages_with_serial')).toBe(1);
    expect(count((l) => l.route === 'simple-project')).toBe(5);
    expect(count((l) => l.path === '/simple/nothing-here/' && l.status === 404)).toBe(1);
    expect(lines.every((l) => l.bytes > 0 || l.status === 404)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
