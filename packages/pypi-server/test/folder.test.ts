import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCrawlError } from '@pypi-graph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startPypiServer } from '../src/index';
import { FIXTURES, get, getJson, python, pythonJson, REPO } from './helpers';

// Index built from a temporary folder: discovery, metadata vs file names, default times,
// broken archives, the manifest and its validation.

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pypi-server-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const JSON_ACCEPT = { Accept: 'application/vnd.pypi.simple.v1+json' };

// Archives written by Python's own tarfile/zipfile, independent of the server's readers.
const MAKE_ARCHIVES = `
import io, os, sys, tarfile, zipfile
out = sys.argv[1]
def tgz(path, members):
    with tarfile.open(os.path.join(out, path), "w:gz") as t:
        for name, data in members:
            info = tarfile.TarInfo(name); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
def zipf(path, members):
    with zipfile.ZipFile(os.path.join(out, path), "w") as z:
        for name, data in members:
            z.writestr(name, data)
os.makedirs(os.path.join(out, "a", "b"), exist_ok=True)
# metadata Name differs from the file name: metadata wins
tgz("a/oldname-1.0.tar.gz", [("oldname-1.0/PKG-INFO", b"Metadata-Version: 2.1\\nName: New.Name\\nVersion: 1.0\\nRequires-Python: >=3.9\\n")])
# a valid zip sdist without PKG-INFO: the file name gives name and version
zipf("a/b/NoInfo_Pkg-0.3.zip", [("NoInfo_Pkg-0.3/setup.py", b"from setuptools import setup\\nsetup()\\n")])
# a wheel whose METADATA sits in a nested directory only (not a wheel's layout): no .metadata file
zipf("flat-2.0-py2.py3-none-any.whl", [("flat/__init__.py", b""), ("x/flat-2.0.dist-info/METADATA", b"Name: flat\\nVersion: 2.0\\n")])
# neither an archive nor a parsable name: skipped; other extensions: ignored
open(os.path.join(out, "README.zip"), "wb").write(b"not a zip")
open(os.path.join(out, "notes.txt"), "w").write("hello")
# broken archive with a parsable name: served
open(os.path.join(out, "Weird.Name-2.0b1.tar.gz"), "wb").write(b"\\x1f\\x8b garbage")
`;

describe('folder index', () => {
  it('finds archives recursively, preferring metadata over file names, skipping what it cannot place', async () => {
    const dir = tempDir();
    await python(MAKE_ARCHIVES, [dir]);
    const server = await startPypiServer({ dir });
    try {
      const { json } = await getJson<{ projects: Array<{ name: string }> }>(
        `${server.url}/simple/`,
        JSON_ACCEPT,
      );
      expect(json.projects.map((p) => p.name)).toEqual(['flat', 'New.Name', 'NoInfo_Pkg', 'Weird.Name']);
      const newName = await getJson<{ info: { version: string; requires_python: string } }>(
        `${server.url}/pypi/New.Name/json`,
      );
      expect(newName.json.info.version).toBe('1.0');
      expect(newName.json.info.requires_python).toBe('>=3.9');
      const weird = await getJson<{ info: { version: string }; urls: Array<{ python_version: string }> }>(
        `${server.url}/pypi/Weird.Name/2.0b1/json`,
      );
      expect(weird.json.urls.map((u) => u.python_version)).toEqual(['source']);
      const flat = await getJson<{ files: Array<{ 'core-metadata': unknown }> }>(
        `${server.url}/simple/flat/`,
        JSON_ACCEPT,
      );
      expect(flat.json.files.map((f) => f['core-metadata'])).toEqual([false]);
    } finally {
      await server.close();
    }
  });

  it('gives deterministic default upload times, whatever the file mtimes', async () => {
    const render = async (mtime: number) => {
      const dir = tempDir();
      for (const name of [
        'yanky-1.0.tar.gz',
        'Foo_Bar-0.1.zip',
        'Foo_Bar-0.2.tgz',
        'acme.interface-1.0.tar.gz',
      ]) {
        copyFileSync(join(FIXTURES, name), join(dir, name));
        utimesSync(join(dir, name), mtime, mtime);
      }
      const server = await startPypiServer({ dir });
      try {
        const times: Record<string, string> = {};
        for (const p of ['acme-interface', 'foo-bar', 'yanky']) {
          const { json } = await getJson<{ files: Array<{ filename: string; 'upload-time': string }> }>(
            `${server.url}/simple/${p}/`,
            JSON_ACCEPT,
          );
          for (const f of json.files) times[f.filename] = f['upload-time'];
        }
        const changelog = await python(
          'import json, sys, xmlrpc.client; print(json.dumps(xmlrpc.client.ServerProxy(sys.argv[1] + "/pypi").changelog_since_serial(0)))',
          [server.url],
        );
        return { times, changelog };
      } finally {
        await server.close();
      }
    };
    const a = await render(1_000_000_000);
    const b = await render(1_700_000_000);
    expect(a).toEqual(b);
    expect(a.times).toEqual({
      'acme.interface-1.0.tar.gz': '2020-01-01T00:00:00Z',
      'Foo_Bar-0.1.zip': '2020-01-01T00:01:00Z',
      'Foo_Bar-0.2.tgz': '2020-01-01T00:02:00Z',
      'yanky-1.0.tar.gz': '2020-01-01T00:03:00Z',
    });
  });

  it('serves one file per name when two folders hold the same file name', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'x'));
    mkdirSync(join(dir, 'y'));
    copyFileSync(join(FIXTURES, 'yanky-1.0.tar.gz'), join(dir, 'x', 'yanky-1.0.tar.gz'));
    copyFileSync(join(FIXTURES, 'yanky-1.1.tar.gz'), join(dir, 'y', 'yanky-1.0.tar.gz'));
    const server = await startPypiServer({ dir });
    try {
      const { json } = await getJson<{ files: unknown[] }>(`${server.url}/simple/yanky/`, JSON_ACCEPT);
      expect(json.files).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("offers a .metadata file only for a wheel the crawler's zip reader reads, the first METADATA's bytes", async () => {
    // packages/archive reads the zips: a wrong CRC, a lying local header or a bomb gets no .metadata
    // file (the crawler could not read that METADATA either); the rest get what zipfile reads
    // from the first METADATA entry.
    const dir = tempDir();
    const wheels = join(REPO, 'test/fixtures/wheels');
    const cases = {
      wf_stored: true,
      wf_zip64: true,
      wf_dupmetadata: true,
      wf_badcrc: false,
      wf_lyinglocal: false,
      wf_bomblie: false,
      wf_truncated: false,
    };
    for (const name of Object.keys(cases)) {
      copyFileSync(join(wheels, `${name}-1.0-py3-none-any.whl`), join(dir, `${name}-1.0-py3-none-any.whl`));
    }
    const firstMetadata = await pythonJson<Record<string, string>>(
      `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    info = [i for i in z.infolist() if i.filename.endswith(".dist-info/METADATA")][0]
    print(json.dumps({"hex": z.open(info).read().hex()}))
`,
      [join(dir, 'wf_dupmetadata-1.0-py3-none-any.whl')],
    );
    const server = await startPypiServer({ dir });
    try {
      const offered: Record<string, boolean> = {};
      for (const name of Object.keys(cases)) {
        const { json } = await getJson<{ files: Array<{ url: string; 'core-metadata': unknown }> }>(
          `${server.url}/simple/${name.replace('_', '-')}/`,
          JSON_ACCEPT,
        );
        offered[name] = json.files[0]!['core-metadata'] !== false;
        if (name === 'wf_dupmetadata') {
          const res = await get(`${json.files[0]!.url}.metadata`);
          expect(Buffer.from(await res.arrayBuffer()).toString('hex')).toBe(firstMetadata.hex);
        }
      }
      expect(offered).toEqual(cases);
    } finally {
      await server.close();
    }
  });

  it('starts on an empty folder: no projects, and changelog_last_serial is None', async () => {
    const server = await startPypiServer({ dir: tempDir() });
    try {
      expect((await (await get(`${server.url}/simple/`)).text()).includes('<a ')).toBe(false);
      const result = await pythonJson<[unknown, unknown[], Record<string, number>]>(
        `import json, sys, xmlrpc.client
p = xmlrpc.client.ServerProxy(sys.argv[1] + "/pypi", allow_none=True)
print(json.dumps([p.changelog_last_serial(), p.changelog_since_serial(0), p.list_packages_with_serial()]))`,
        [server.url],
      );
      expect(result).toEqual([null, [], {}]);
    } finally {
      await server.close();
    }
  });

  it('applies manifest yanks and removals given by project==version, normalizing both', async () => {
    const dir = tempDir();
    for (const name of ['Foo_Bar-0.1.zip', 'Foo_Bar-0.2.tgz', 'Foo_Bar-0.2-py2.py3-none-any.whl']) {
      copyFileSync(join(FIXTURES, name), join(dir, name));
    }
    writeFileSync(
      join(dir, 'pypi-index.json'),
      JSON.stringify({
        releases: {
          'foo.bar==0.2.0': { yanked: true },
          'FOO_BAR==0.1': { removed_at: '2024-01-01T00:00:00Z' },
        },
      }),
    );
    const server = await startPypiServer({ dir });
    try {
      const { json } = await getJson<{
        info: { version: string };
        releases: Record<string, Array<{ yanked: boolean; yanked_reason: null }>>;
      }>(`${server.url}/pypi/Foo_Bar/json`);
      expect(Object.keys(json.releases)).toEqual(['0.2']);
      expect(json.releases['0.2']!.map((f) => [f.yanked, f.yanked_reason])).toEqual([
        [true, null],
        [true, null],
      ]);
      const rows = await pythonJson<Array<[string, string | null, number, string, number]>>(
        'import json, sys, xmlrpc.client; print(json.dumps(xmlrpc.client.ServerProxy(sys.argv[1] + "/pypi").changelog_since_serial(0)))',
        [server.url],
      );
      expect(rows.slice(-2).map((r) => [r[1], r[2], r[3]])).toEqual([
        // default yank time: an hour after the release's last upload (2020-01-01T00:02:00Z)
        ['0.2', Date.parse('2020-01-01T01:02:00Z') / 1000, 'yank release'],
        ['0.1', Date.parse('2024-01-01T00:00:00Z') / 1000, 'remove release'],
      ]);
    } finally {
      await server.close();
    }
  });

  it('rejects a manifest that is not JSON or not valid, with a config-invalid CrawlError', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pypi-index.json'), '{ nope');
    const err1 = await startPypiServer({ dir }).catch((e: unknown) => e);
    expect(isCrawlError(err1) && err1.code).toBe('config-invalid');
    writeFileSync(join(dir, 'pypi-index.json'), JSON.stringify({ files: { 'a.tar.gz': { yanked: 3 } } }));
    const err2 = await startPypiServer({ dir }).catch((e: unknown) => e);
    expect(isCrawlError(err2) && err2.code).toBe('config-invalid');
    expect(String((err2 as Error).message)).toMatch(/yanked/);
    const err3 = await startPypiServer({ dir: join(dir, 'missing') }).catch((e: unknown) => e);
    expect(isCrawlError(err3) && err3.code).toBe('config-invalid');
  });
});
