import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { scanSdist } from '@pypi-graph/archive';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSdistStaticMetadata } from '../src';

// Symlinks in .zip sdists are checked as the tar scanner checks tar links (archive-link). Every
// archive is built here: with Info-ZIP's `zip --symlinks` from real symlinks on disk, and with
// Python's zipfile / tarfile for the same entries in both formats.

const run = promisify(execFile);
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pypi-graph-zip-links-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const SETUP_PY = "from setuptools import setup\nsetup(name='demo', version='1.0')\n";

/** `<name>.zip` and `<name>.tar.gz` of `demo-1.0/` holding setup.py, docs/README.md and `links` (name → target). */
async function pair(name: string, links: Record<string, string>): Promise<{ zip: string; tar: string }> {
  const script = `
import io, json, sys, tarfile, zipfile
links = json.loads(sys.argv[1]); base = sys.argv[2]
files = {"demo-1.0/setup.py": ${JSON.stringify(SETUP_PY)}, "demo-1.0/docs/README.md": "# demo\\n"}
with zipfile.ZipFile(base + ".zip", "w", zipfile.ZIP_DEFLATED) as z:
    for n, data in sorted(files.items()):
        z.writestr(n, data)
    for n, target in sorted(links.items()):
        info = zipfile.ZipInfo(n)
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        z.writestr(info, target)
with tarfile.open(base + ".tar.gz", "w:gz") as t:
    for n, data in sorted(files.items()):
        b = data.encode()
        info = tarfile.TarInfo(n); info.size = len(b); info.mode = 0o644
        t.addfile(info, io.BytesIO(b))
    for n, target in sorted(links.items()):
        info = tarfile.TarInfo(n); info.type = tarfile.SYMTYPE; info.linkname = target
        t.addfile(info)
`;
  const base = path.join(work, name);
  await run('python3', ['-c', script, JSON.stringify(links), base]);
  return { zip: `${base}.zip`, tar: `${base}.tar.gz` };
}

/** The links the sdist scanner found (and checked) in an archive. */
async function symlinksOf(file: string): Promise<Map<string, string>> {
  return (await scanSdist(file, { want: () => false })).symlinks;
}

async function code(file: string): Promise<FailureCode | 'accepted'> {
  try {
    await readSdistStaticMetadata(file);
    return 'accepted';
  } catch (err) {
    if (err instanceof CrawlError) return err.code;
    throw err;
  }
}

describe('symlinks in .zip sdists', () => {
  it('refuses a link made by zip --symlinks that points out of the tree (archive-link)', async () => {
    const root = path.join(work, 'info-zip');
    await mkdir(path.join(root, 'demo-1.0', 'docs'), { recursive: true });
    await writeFile(path.join(root, 'demo-1.0', 'setup.py'), SETUP_PY);
    await writeFile(path.join(root, 'demo-1.0', 'docs', 'README.md'), '# demo\n');
    await symlink('../../../etc/passwd', path.join(root, 'demo-1.0', 'docs', 'passwd'));
    const zip = path.join(work, 'info-zip-demo-1.0.zip');
    await run('zip', ['-q', '-r', '--symlinks', zip, 'demo-1.0'], { cwd: root });
    // the premise: Info-ZIP stored a link, not the file it points to
    const { stdout } = await run('zipinfo', [zip, 'demo-1.0/docs/passwd']);
    expect(stdout).toMatch(/^l/);
    await expect(readSdistStaticMetadata(zip)).rejects.toMatchObject({
      code: 'archive-link',
      message: expect.stringContaining('demo-1.0/docs/passwd'),
    });
  });

  it('accepts a link made by zip --symlinks that stays inside the tree', async () => {
    const root = path.join(work, 'info-zip-inside');
    await mkdir(path.join(root, 'demo-1.0', 'docs'), { recursive: true });
    await writeFile(path.join(root, 'demo-1.0', 'setup.py'), SETUP_PY);
    await writeFile(path.join(root, 'demo-1.0', 'docs', 'README.md'), '# demo\n');
    await symlink('docs/README.md', path.join(root, 'demo-1.0', 'README.md'));
    const zip = path.join(work, 'info-zip-inside-demo-1.0.zip');
    await run('zip', ['-q', '-r', '--symlinks', zip, 'demo-1.0'], { cwd: root });
    expect(await symlinksOf(zip)).toEqual(new Map([['demo-1.0/README.md', 'docs/README.md']]));
    expect((await readSdistStaticMetadata(zip)).kind).toBe('needs-setup-py');
  });

  it.each([
    ['climbs out', { 'demo-1.0/escape': '../../etc/passwd' }, 'archive-link'],
    ['absolute', { 'demo-1.0/abs': '/etc/passwd' }, 'archive-link'],
    ['the archive top', { 'demo-1.0/top': '..' }, 'archive-link'],
    // lexically inside (demo-1.0/docs/up/../.. is demo-1.0), out once docs/up → demo-1.0 is followed
    ['out through another link', { 'demo-1.0/docs/up': '..', 'demo-1.0/docs/x': 'up/../..' }, 'archive-link'],
    ['a loop', { 'demo-1.0/a': 'b', 'demo-1.0/b': 'a' }, 'archive-link'],
    ['inside', { 'demo-1.0/README.md': 'docs/README.md', 'demo-1.0/d': 'docs' }, 'accepted'],
  ] as const)('a link %s: the same outcome for zip and tar', async (label, links, expected) => {
    const { zip, tar } = await pair(label.replace(/\W+/g, '-'), links);
    expect(await code(tar)).toBe(expected);
    expect(await code(zip)).toBe(expected);
  });

  it('does not take a regular file for a link', async () => {
    const { zip } = await pair('no-links', {});
    expect(await symlinksOf(zip)).toEqual(new Map());
    expect(await code(zip)).toBe('accepted');
  });
});
