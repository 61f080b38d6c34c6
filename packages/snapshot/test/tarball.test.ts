import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GZIP_HEADER, readTree, writeTarGz } from '../src/index';
import { splitUstarPath, ustarHeader } from '../src/tarball';
import { runPython, tempDir } from './helpers';

const LONG_DIR = 'd'.repeat(60) + '/' + 'e'.repeat(60); // 121 bytes: needs the ustar prefix field

let tmp: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

/** A tree with the cases a tar writer gets wrong: nesting, empty things, an executable, a long path. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'b/sub'), { recursive: true });
  await mkdir(join(root, 'empty-dir'));
  await mkdir(join(root, LONG_DIR), { recursive: true });
  await writeFile(join(root, 'a.json'), '{}');
  await writeFile(join(root, 'B.txt'), 'upper case sorts first\n');
  await writeFile(join(root, 'b/sub/block'), Buffer.alloc(512, 7)); // exactly one block, no padding
  await writeFile(join(root, 'b/empty'), '');
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(root, 'run.sh'), 0o755);
  await writeFile(join(root, LONG_DIR, 'f'.repeat(90)), Buffer.from([0, 1, 2, 255]));
}

/** Walks the raw 512-byte headers of an uncompressed tar. */
function rawHeaders(
  tar: Buffer,
): Array<{ name: string; prefix: string; type: string; magic: string; version: string }> {
  const out = [];
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) => h.toString('latin1', a, a + n).replace(/\0.*$/s, '');
    const size = Number.parseInt(str(124, 12), 8);
    out.push({
      name: str(0, 100),
      prefix: str(345, 155),
      type: str(156, 1),
      magic: h.toString('latin1', 257, 263),
      version: str(263, 2),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('writeTarGz', () => {
  it('writes a plain ustar archive that Python tarfile and GNU tar read back exactly', async () => {
    const src = join(tmp.path, 'src');
    await makeTree(src);
    const out = join(tmp.path, 'out.tar.gz');
    const { sha256, bytes } = await writeTarGz(await readTree(src), 'top', out, { mtime: 1_700_000_000 });
    const gz = await readFile(out);
    expect(bytes).toBe(gz.length);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    // RFC 1952 header: deflate, no flags, MTIME 0, XFL 0 (level 6), OS 255 (unknown).
    expect(gz.subarray(0, 10).toString('hex')).toBe('1f8b08000000000000ff');
    expect(GZIP_HEADER.toString('hex')).toBe('1f8b08000000000000ff');

    const tar = gunzipSync(gz); // checks CRC32 and ISIZE
    expect(tar.length % 10240).toBe(0);
    const headers = rawHeaders(tar);
    expect(headers.every((h) => h.magic === 'ustar\0' && h.version === '00')).toBe(true);
    expect(new Set(headers.map((h) => h.type))).toEqual(new Set(['0', '5'])); // no x/g/L/K headers
    // Shortest prefix that leaves a name of at most 100 bytes, as Python's tarfile splits.
    expect(headers.filter((h) => h.prefix !== '')).toMatchObject([
      { prefix: `top/${'d'.repeat(60)}`, name: `${'e'.repeat(60)}/` },
      { prefix: `top/${LONG_DIR}`, name: 'f'.repeat(90) },
    ]);

    const listing = JSON.parse(
      runPython(
        `
import json, tarfile
with tarfile.open(${JSON.stringify(out)}, 'r:gz') as tf:
    print(json.dumps([[m.name, m.type.decode(), oct(m.mode), m.mtime, m.uid, m.gid, m.uname, m.gname, m.size, m.pax_headers,
                       tf.extractfile(m).read().hex() if m.isfile() else None] for m in tf.getmembers()]))
`,
      ),
    ) as unknown[][];
    const L = `top/${LONG_DIR}`;
    const F = `${L}/${'f'.repeat(90)}`;
    expect(listing.map((m) => [m[0], m[1], m[2]])).toEqual([
      ['top', '5', '0o755'],
      ['top/B.txt', '0', '0o644'],
      ['top/a.json', '0', '0o644'],
      ['top/b', '5', '0o755'],
      ['top/b/empty', '0', '0o644'],
      ['top/b/sub', '5', '0o755'],
      ['top/b/sub/block', '0', '0o644'],
      ['top/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', '5', '0o755'],
      [L, '5', '0o755'],
      [F, '0', '0o644'],
      ['top/empty-dir', '5', '0o755'],
      ['top/run.sh', '0', '0o755'],
    ]);
    for (const m of listing) expect(m.slice(3, 8)).toEqual([1_700_000_000, 0, 0, '', '']);
    for (const m of listing) expect(m[9]).toEqual({});
    expect(listing.find((m) => m[0] === F)![10]).toBe('000102ff');
    expect(listing.find((m) => m[0] === 'top/b/sub/block')![8]).toBe(512);

    // GNU tar: lists the same and extracts to the same bytes.
    const tv = execFileSync('tar', ['--numeric-owner', '--utc', '-tvzf', out], { encoding: 'utf8' });
    expect(tv).toContain('-rwxr-xr-x 0/0              18 2023-11-14 22:13 top/run.sh');
    expect(tv).toContain('drwxr-xr-x 0/0               0 2023-11-14 22:13 top/empty-dir/');
    const x = join(tmp.path, 'x');
    await mkdir(x);
    execFileSync('tar', ['-xzf', out, '-C', x]);
    execFileSync('diff', ['-r', src, join(x, 'top')]);
    execFileSync('gzip', ['-t', out]);
  });

  it('gives the same bytes for the same tree', async () => {
    const src = join(tmp.path, 'src');
    await makeTree(src);
    const a = await writeTarGz(await readTree(src), 'top', join(tmp.path, 'a.tgz'), { mtime: 0 });
    const b = await writeTarGz(await readTree(src), 'top', join(tmp.path, 'b.tgz'), { mtime: 0 });
    expect(a).toEqual(b);
    expect(await readFile(join(tmp.path, 'a.tgz'))).toEqual(await readFile(join(tmp.path, 'b.tgz')));
    const c = await writeTarGz(await readTree(src), 'top', join(tmp.path, 'c.tgz'), { mtime: 1 });
    expect(c.sha256).not.toBe(a.sha256);
  });

  it('refuses paths that need an extension header', () => {
    expect(splitUstarPath('a/' + 'b'.repeat(100))).toEqual({ prefix: 'a', name: 'b'.repeat(100) });
    expect(() => splitUstarPath('a/' + 'b'.repeat(101))).toThrow(/too long/);
    expect(() => splitUstarPath('c'.repeat(156) + '/b')).toThrow(/too long/);
    expect(() => splitUstarPath('café')).toThrow(/ASCII/);
    const h = ustarHeader('x/y', 'file', 3, 0o644, 0);
    expect(h.toString('latin1', 148, 156)).toMatch(/^[0-7]{6}\0 $/);
  });
});
