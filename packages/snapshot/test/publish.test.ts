import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { bucketOf, machNixName } from '@pypi-graph/pyspec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPypiBucket, type PublishResult, type PypiProject, publishSnapshot } from '../src/index';
import { hasCommand, runPython, tempDir } from './helpers';
import { META, memorySource, projects } from './sources';

/** Every file under `dir` (following no links) with its bytes' sha256, by relative path. */
async function fileHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile())
      out[relative(dir, path)] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
    else if (entry.isSymbolicLink()) out[relative(dir, path)] = `-> ${await readlink(path)}`;
  }
  return out;
}

let tmp: { path: string; cleanup: () => Promise<void> };
let out: string;
beforeEach(async () => {
  tmp = await tempDir();
  out = join(tmp.path, 'out');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('publishSnapshot', () => {
  it('writes the tree, the manifest, the tarball and the latest pointers', async () => {
    // One project big enough that its bucket is written in several pieces (> 64 KiB).
    const big: PypiProject = {
      name: 'Big_Project',
      releases: [
        {
          version: '1',
          files: Array.from({ length: 1500 }, (_, i) => ({
            filename: `big_project-1-cp3${i}-none-any.whl`,
            packagetype: 'bdist_wheel',
            pythonVersion: `cp3${i}`,
            sha256Hex: createHash('sha256').update(`b${i}`).digest('hex'),
          })),
        },
      ],
    };
    const items = [...projects(300), big];
    const result = await publishSnapshot({ outDir: out, source: memorySource(items) });

    expect(result.id).toMatch(/^4242-[0-9a-f]{12}$/);
    expect(result.reused).toBe(false);
    expect((await readdir(out)).sort()).toEqual(
      [
        result.id,
        `${result.id}.tar.gz`,
        `${result.id}.tar.gz.sha256`,
        '.reuse',
        'latest',
        'latest.json',
      ].sort(),
    );
    // What the next snapshot may reuse: the compressed pieces (this source gives no tokens).
    expect(await readdir(join(out, '.reuse'))).toEqual([`${result.id}.pieces`]);
    expect(await readlink(join(out, 'latest'))).toBe(result.id);

    const tree = await fileHashes(result.dir);
    const pypiFiles = Object.keys(tree).filter((p) => p.startsWith('pypi/'));
    expect(pypiFiles).toHaveLength(256);
    expect(Object.keys(tree)).toHaveLength(258);
    expect(await readFile(join(result.dir, 'UNIX_TIMESTAMP'), 'utf8')).toBe('1700000000\n');

    // Each bucket file is exactly what the layout builder gives for its projects; empty ones are {}.
    let total = { projects: 0, releases: 0, files: 0 };
    let empty = 0;
    for (const path of pypiFiles) {
      const bucket = path.slice(5, 7);
      const expected = await buildPypiBucket(
        items.filter((p) => bucketOf(machNixName(p.name)) === bucket),
        bucket,
      );
      expect(await readFile(join(result.dir, path), 'utf8')).toBe(expected.json);
      if (expected.json === '{}') empty += 1;
      total = {
        projects: total.projects + expected.counts.projects,
        releases: total.releases + expected.counts.releases,
        files: total.files + expected.counts.files,
      };
    }
    expect(empty).toBeGreaterThan(0);
    expect(total).toEqual({ projects: 301, releases: 301, files: 2100 });
    const bigFile = join(result.dir, 'pypi', `${bucketOf('big-project')}.json`);
    expect((await lstat(bigFile)).size).toBeGreaterThan(3 * 65536);
    expect(result.counts).toEqual({ pypi: total });

    // manifest.json: Python's own canonical form, hashes of every other file, sorted.
    const manifestPath = join(result.dir, 'manifest.json');
    const manifestText = await readFile(manifestPath, 'utf8');
    const manifest = JSON.parse(manifestText);
    expect(Object.keys(manifest)).toEqual([
      'format',
      'format_version',
      'id',
      'changelog_serial',
      'unix_timestamp',
      'layouts',
      'files',
    ]);
    expect(manifest).toMatchObject({
      format: 'pypi-graph-snapshot',
      format_version: 1,
      id: result.id,
      changelog_serial: 4242,
      unix_timestamp: 1_700_000_000,
      layouts: { pypi: total },
    });
    const { 'manifest.json': manifestHash, ...others } = tree;
    expect(manifest.files).toEqual(others);
    expect(Object.keys(manifest.files)).toEqual(Object.keys(others).sort());
    expect(result.manifestSha256).toBe(manifestHash);
    expect(
      runPython(
        `import json,sys; sys.stdout.write(json.dumps(json.load(open(${JSON.stringify(manifestPath)})), indent=2))`,
      ),
    ).toBe(manifestText);

    // Pointers for consumers.
    expect(JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'))).toEqual({
      id: result.id,
      changelog_serial: 4242,
      unix_timestamp: 1_700_000_000,
      dir: result.id,
      tarball: `${result.id}.tar.gz`,
      tarball_sha256: result.tarballSha256,
      nar_hash_base32: result.narHashBase32,
      nar_hash_sri: result.narHashSri,
      layouts: { pypi: total },
    });
    expect(
      execFileSync('sha256sum', ['-c', `${result.id}.tar.gz.sha256`], { cwd: out, encoding: 'utf8' }),
    ).toContain(': OK');
    expect(
      createHash('sha256')
        .update(await readFile(result.tarball))
        .digest('hex'),
    ).toBe(result.tarballSha256);
  });

  it('packs the tree under one top-level directory that GNU tar and Python unpack to the same files', async () => {
    const result = await publishSnapshot({ outDir: out, source: memorySource(projects(40)) });
    const x = join(tmp.path, 'x');
    await mkdir(x);
    execFileSync('tar', ['-xzf', result.tarball, '-C', x]);
    expect(await readdir(x)).toEqual([result.id]);
    execFileSync('diff', ['-r', result.dir, join(x, result.id)]);

    const members = JSON.parse(
      runPython(`
import json, tarfile
with tarfile.open(${JSON.stringify(result.tarball)}) as tf:
    print(json.dumps([[m.name, oct(m.mode), m.mtime, m.uid, m.gid, m.uname, m.gname, m.pax_headers] for m in tf]))
`),
    ) as unknown[][];
    expect(members.slice(0, 5).map((m) => m[0])).toEqual([
      result.id,
      `${result.id}/UNIX_TIMESTAMP`,
      `${result.id}/manifest.json`,
      `${result.id}/pypi`,
      `${result.id}/pypi/00.json`,
    ]);
    expect(members).toHaveLength(1 + 2 + 1 + 256);
    for (const m of members) expect(m.slice(2)).toEqual([1_700_000_000, 0, 0, '', '', {}]);
  });

  it.skipIf(!hasCommand('nix-hash'))(
    'reports the NAR hash nix-hash computes for the unpacked tree',
    async () => {
      const result = await publishSnapshot({ outDir: out, source: memorySource(projects(40)) });
      const x = join(tmp.path, 'x');
      await mkdir(x);
      execFileSync('tar', ['-xzf', result.tarball, '-C', x]);
      for (const dir of [result.dir, join(x, result.id)]) {
        expect(
          execFileSync('nix-hash', ['--type', 'sha256', '--base32', dir], { encoding: 'utf8' }).trim(),
        ).toBe(result.narHashBase32);
      }
      const hex = execFileSync('nix-hash', ['--type', 'sha256', result.dir], { encoding: 'utf8' }).trim();
      expect(result.narHashSri).toBe('sha256-' + Buffer.from(hex, 'hex').toString('base64'));
    },
  );

  it('gives the same id and the same bytes for the same data, in any output directory', async () => {
    const items = projects(120);
    const a = await publishSnapshot({ outDir: out, source: memorySource(items) });
    const out2 = join(tmp.path, 'elsewhere', 'deeper');
    const b = await publishSnapshot({ outDir: out2, source: memorySource([...items].reverse()) });
    const strip = (r: PublishResult) => ({ ...r, dir: undefined, tarball: undefined, stats: undefined });
    expect(strip(b)).toEqual(strip(a));
    expect(await fileHashes(out2)).toEqual(await fileHashes(out));

    // Same data again in the same place: the snapshot is kept, only `latest` is repointed.
    const before = await lstat(a.tarball);
    const again = await publishSnapshot({ outDir: out, source: memorySource(items) });
    expect(again.reused).toBe(true);
    expect(strip({ ...again, reused: false })).toEqual(strip(a));
    expect((await lstat(a.tarball)).ino).toBe(before.ino);

    // A lost tarball is rebuilt, to the same bytes.
    await rm(a.tarball);
    const rebuilt = await publishSnapshot({ outDir: out, source: memorySource(items) });
    expect(rebuilt.tarballSha256).toBe(a.tarballSha256);
    // So is a damaged one (it no longer matches its .sha256 file).
    await writeFile(a.tarball, 'damaged');
    const repaired = await publishSnapshot({ outDir: out, source: memorySource(items) });
    expect(repaired.tarballSha256).toBe(a.tarballSha256);
    expect(
      createHash('sha256')
        .update(await readFile(a.tarball))
        .digest('hex'),
    ).toBe(a.tarballSha256);

    // Other data: another id; the old snapshot stays, latest moves.
    const c = await publishSnapshot({ outDir: out, source: memorySource(projects(121)) });
    expect(c.id).not.toBe(a.id);
    expect(c.tarballSha256).not.toBe(a.tarballSha256);
    expect(await readlink(join(out, 'latest'))).toBe(c.id);
    expect(await readdir(out)).toContain(a.id);
    // Back to the first data: reused, and both pointers move back to it.
    const back = await publishSnapshot({ outDir: out, source: memorySource(items) });
    expect(back).toMatchObject({ id: a.id, reused: true });
    expect(await readlink(join(out, 'latest'))).toBe(a.id);
    expect(JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'))).toMatchObject({ id: a.id });
    // The timestamp alone changes the id too.
    const d = await publishSnapshot({
      outDir: out,
      source: memorySource(projects(121), { ...META, unixTimestamp: 1 }),
    });
    expect(d.id).not.toBe(c.id);
  });

  it('leaves the previous snapshot and latest untouched when aborted mid-way', async () => {
    const prev = await publishSnapshot({ outDir: out, source: memorySource(projects(50)) });
    const before = await fileHashes(out);

    const controller = new AbortController();
    const seen: string[] = [];
    const source = memorySource(projects(60), META, (bucket) => {
      seen.push(bucket);
      if (bucket === '80') controller.abort();
    });
    await expect(publishSnapshot({ outDir: out, source, signal: controller.signal })).rejects.toMatchObject({
      name: 'CrawlError',
      code: 'aborted',
    });
    expect(seen.at(-1)).toBe('80'); // it stopped at the next bucket
    expect(await fileHashes(out)).toEqual(before); // no new id, no temp left, nothing changed
    expect(await readlink(join(out, 'latest'))).toBe(prev.id);
  });

  it('leaves the previous snapshot untouched when the source fails mid-way', async () => {
    const prev = await publishSnapshot({ outDir: out, source: memorySource(projects(50)) });
    const before = await fileHashes(out);
    const source = memorySource(projects(70), META, (bucket) => {
      if (bucket === 'c0') throw new Error('connection lost');
    });
    await expect(publishSnapshot({ outDir: out, source })).rejects.toMatchObject({ code: 'snapshot-failed' });
    expect(await fileHashes(out)).toEqual(before);
    expect(await readlink(join(out, 'latest'))).toBe(prev.id);
  });

  it("removes a killed run's temp files but not a live run's", async () => {
    await mkdir(join(out, '.tmp-999999999-abc', 'tree', 'pypi'), { recursive: true });
    await writeFile(join(out, '.tmp-999999999-abc', 'tree', 'pypi', '00.json'), '{');
    await mkdir(join(out, `.tmp-${process.pid}-old`)); // our pid, but not in use by this process
    await writeFile(join(out, '.tmp-junk'), '');
    await mkdir(join(out, `.tmp-${process.ppid}-live`)); // another process that is still running
    const result = await publishSnapshot({ outDir: out, source: memorySource(projects(5)) });
    expect((await readdir(out)).filter((n) => n.startsWith('.tmp-'))).toEqual([`.tmp-${process.ppid}-live`]);
    expect(await readlink(join(out, 'latest'))).toBe(result.id);
  });

  it('refuses to reuse a directory that holds something else under the same id', async () => {
    const source = memorySource(projects(5));
    const first = await publishSnapshot({ outDir: out, source });
    await writeFile(join(first.dir, 'manifest.json'), '{}');
    await expect(publishSnapshot({ outDir: out, source })).rejects.toMatchObject({ code: 'snapshot-failed' });
    await expect(
      publishSnapshot({ outDir: out, source: memorySource([], { serial: -1, unixTimestamp: 0 }) }),
    ).rejects.toMatchObject({ code: 'snapshot-failed' });
  });
});
