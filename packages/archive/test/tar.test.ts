import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLinksResolveInside, normalizeEntryName, type ScanSdistOptions, scanSdist } from '../src';

// The sdist scanner on the fixtures of test/fixtures/sdists (scripts/make-sdist-fixtures.py; the
// README there lists each one's expected outcome), on archives too big to commit (generated here),
// and against CPython's tarfile/zipfile for the list of regular files.

const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURES = path.join(REPO, 'test/fixtures/sdists');
const run = promisify(execFile);
const WANT: ScanSdistOptions['want'] = (n) => /^[^/]+\/(PKG-INFO|pyproject\.toml)$/.test(n);

async function codeOf(p: string, options: Partial<ScanSdistOptions> = {}): Promise<FailureCode | 'ok'> {
  try {
    await scanSdist(p, { want: WANT, ...options });
    return 'ok';
  } catch (err) {
    if (err instanceof CrawlError) return err.code;
    throw err;
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sdist-tar-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('hostile fixtures', () => {
  it.each([
    ['hostile-dotdot.tar.gz', 'archive-path-traversal'],
    ['hostile-absolute.tar.gz', 'archive-path-traversal'],
    ['hostile-symlink-out.tar.gz', 'archive-link'],
    ['hostile-symlink-abs.tar.gz', 'archive-link'],
    ['hostile-symlink-chain.tar.gz', 'archive-link'],
    ['hostile-hardlink-out.tar.gz', 'archive-link'],
    ['hostile-hardlink-abs.tar.gz', 'archive-link'],
    ['hostile-chardev.tar.gz', 'archive-device'],
    ['hostile-blockdev.tar.gz', 'archive-device'],
    ['hostile-fifo.tar.gz', 'archive-device'],
    ['zip-dotdot-1.0.zip', 'archive-path-traversal'],
    ['not-a-tar-1.0.tar.gz', 'archive-corrupt'],
    ['links-inside-1.0.tar.gz', 'ok'],
  ] as const)('%s → %s', async (file, code) => {
    expect(await codeOf(path.join(FIXTURES, file))).toBe(code);
  });
});

describe('good fixtures', () => {
  it('reads the same regular files as CPython, in every container', async () => {
    const files = (await readdir(FIXTURES)).filter(
      (f) =>
        /\.(tar\.gz|tar\.bz2|tar|zip)$/.test(f) &&
        !f.startsWith('hostile') &&
        !f.startsWith('not-a-tar') &&
        !f.startsWith('zip-dotdot'),
    );
    expect(files.length).toBeGreaterThanOrEqual(14);
    const script = `
import json, sys, tarfile, zipfile
out = {}
for p in sys.argv[1:]:
    if p.endswith('.zip'):
        with zipfile.ZipFile(p) as z:
            out[p] = sorted(i.filename for i in z.infolist() if not i.is_dir())
    else:
        with tarfile.open(p) as t:
            out[p] = sorted(m.name for m in t.getmembers() if m.isfile())
print(json.dumps(out))`;
    const paths = files.map((f) => path.join(FIXTURES, f));
    const { stdout } = await run('python3', ['-c', script, ...paths]);
    const expected = JSON.parse(stdout) as Record<string, string[]>;
    for (const p of paths) {
      const scan = await scanSdist(p, { want: () => true });
      expect([...scan.files].sort(), p).toEqual(expected[p]);
      expect(scan.root, p).toBe(path.basename(p).replace(/\.(tar\.gz|tar\.bz2|tar|zip)$/, ''));
      expect([...scan.entries.keys()].sort()).toEqual([...scan.files].sort());
    }
  });

  it('keeps only what `want` picks, with its bytes', async () => {
    const scan = await scanSdist(path.join(FIXTURES, 'pep621-static-1.0.tar.bz2'), { want: WANT });
    expect(scan.format).toBe('tar.bz2');
    expect([...scan.entries.keys()].sort()).toEqual([
      'pep621-static-1.0/PKG-INFO',
      'pep621-static-1.0/pyproject.toml',
    ]);
    expect(scan.entries.get('pep621-static-1.0/pyproject.toml')!.toString()).toContain(
      'name = "pep621-static"',
    );
    expect(scan.count).toBe(3);
  });
});

describe('caps', () => {
  const file = path.join(FIXTURES, 'pep621-static-1.0.tar.gz');
  it.each([
    [{ maxEntries: 2 }, 'archive-too-many-entries'],
    [{ maxEntryBytes: 100 }, 'archive-too-large'],
    [{ maxTotalBytes: 2048 }, 'archive-too-large'],
    [{ maxWantedBytes: 100 }, 'archive-too-large'],
    [{ maxNameBytes: 10 }, 'archive-unsupported'],
    [{ maxCompressionRatio: 2, ratioExemptBytes: 0 }, 'archive-bomb'],
  ] as const)('%o → %s', async (limits, code) => {
    expect(await codeOf(file, { limits })).toBe(code);
  });

  it('honours an aborted signal', async () => {
    expect(await codeOf(file, { signal: AbortSignal.abort() })).toBe('aborted');
  });

  it('names the code of a wanted entry over its cap', async () => {
    expect(
      await codeOf(file, { limits: { maxWantedBytes: 100 }, wantedTooLargeCode: 'metadata-too-large' }),
    ).toBe('metadata-too-large');
  });

  it('caps zip sdists too', async () => {
    const zip = path.join(FIXTURES, 'pep621-static-1.0.zip');
    expect(await codeOf(zip, { limits: { maxEntries: 1 } })).toBe('archive-too-many-entries');
    expect(await codeOf(zip, { limits: { maxTotalBytes: 100 } })).toBe('archive-too-large');
    expect(await codeOf(zip, { limits: { maxWantedBytes: 100 } })).toBe('archive-too-large');
  });

  it('refuses .tar.xz, a wrong magic number and a truncated gzip', async () => {
    const xz = path.join(tmp, 'x-1.0.tar.xz');
    await writeFile(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]));
    expect(await codeOf(xz)).toBe('archive-unsupported');
    const fake = path.join(tmp, 'fake-1.0.tar.gz');
    await writeFile(fake, 'BZh91AY&SY');
    expect(await codeOf(fake)).toBe('archive-corrupt');
    const { readFile } = await import('node:fs/promises');
    const whole = await readFile(file);
    const cut = path.join(tmp, 'cut-1.0.tar.gz');
    await writeFile(cut, whole.subarray(0, whole.length - 40));
    expect(await codeOf(cut)).toBe('archive-corrupt');
  });
});

describe('generated at test time', () => {
  it('stops a 100k-entry tar at the entry cap', async () => {
    // ustar headers written directly (tar-stream's packer takes ~20 s for 100k entries).
    const template = Buffer.alloc(512);
    for (const [at, text] of [
      [100, '0000755\0'],
      [108, '0000000\0'],
      [116, '0000000\0'],
      [124, '00000000000\0'],
      [136, '00000000000\0'],
      [156, '5'],
      [257, 'ustar\0'],
      [263, '00'],
    ] as const)
      template.write(text, at, 'latin1');
    let templateSum = 8 * 32; // the checksum field counts as blanks
    for (const b of template) templateSum += b;
    const blocks: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) {
      const h = Buffer.from(template);
      const name = Buffer.from(`many-1.0/d${i}/`, 'latin1');
      name.copy(h, 0);
      let sum = templateSum;
      for (const b of name) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      blocks.push(h);
    }
    blocks.push(Buffer.alloc(1024));
    const p = path.join(tmp, 'many-1.0.tar.gz');
    await writeFile(p, zlib.gzipSync(Buffer.concat(blocks), { level: 1 }));
    expect(await codeOf(p)).toBe('archive-too-many-entries');
    const whole = await scanSdist(p, { want: () => false, limits: { maxEntries: 100_000 } });
    expect(whole.count).toBe(100_000);
    expect(whole.root).toBe('many-1.0');
  }, 30_000);

  it('stops a gzip bomb (64 MiB of zeros) by ratio, early', async () => {
    const p = path.join(tmp, 'bomb-1.0.tar.gz');
    const pack = tar.pack();
    const writing = pipeline(pack, zlib.createGzip({ level: 9 }), createWriteStream(p));
    pack.entry({ name: 'bomb-1.0/zeros', size: 64 << 20, mtime: new Date(0) }, Buffer.alloc(64 << 20));
    pack.finalize();
    await writing;
    expect(await codeOf(p)).toBe('archive-bomb');
    // Without the ratio cap, the total cap catches it.
    expect(await codeOf(p, { limits: { maxCompressionRatio: 1e9, maxTotalBytes: 16 << 20 } })).toBe(
      'archive-too-large',
    );
  }, 30_000);

  it('stops a bzip2 bomb', async () => {
    const p = path.join(tmp, 'bomb-1.0.tar.bz2');
    const script = `
import bz2, io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as t:
    ti = tarfile.TarInfo('bomb-1.0/zeros'); ti.size = 8 << 20
    t.addfile(ti, io.BytesIO(bytes(8 << 20)))
open(sys.argv[1], 'wb').write(bz2.compress(buf.getvalue(), 9))`;
    await run('python3', ['-c', script, p]);
    expect(await codeOf(p)).toBe('archive-bomb');
  }, 30_000);
});

describe('names and links', () => {
  it.each([
    ['./pkg-1.0//PKG-INFO', 'pkg-1.0/PKG-INFO'],
    ['pkg-1.0/./a/', 'pkg-1.0/a'],
    ['./', ''],
    ['pkg-1.0/tests/data/a\\b.txt', 'pkg-1.0/tests/data/a\\b.txt'],
  ])('%s → %s', (raw, name) => {
    expect(normalizeEntryName(raw)).toBe(name);
  });

  it.each(['/etc/passwd', 'a/../../b', '..', 'C:evil', 'a\\..\\b', '\\\\server\\x'])(
    '%s is a path traversal',
    (raw) => {
      expect(() => normalizeEntryName(raw)).toThrow(
        expect.objectContaining({ code: 'archive-path-traversal' }),
      );
    },
  );

  it.each([
    [{ 'p/a': '.', 'p/b': 'a/a/../..' }, {}, false],
    [{ 'p/a': 'x', 'p/x': 'a' }, {}, false],
    [{ 'p/d': 'sub/deep', 'p/e': 'd/../f' }, {}, true],
    [{ 'p/d': '..' }, {}, false],
    [{ 'p/up': '../q' }, {}, true],
    [{ 'p/d': 'sub' }, { 'p/h': 'p/d/../../..' }, false],
    [{ 'p/d': '../..' }, {}, false],
    [{}, { 'p/h': 'p/src/a.py' }, true],
  ] as Array<[Record<string, string>, Record<string, string>, boolean]>)(
    'links %o %o inside: %s',
    (symlinks, hardlinks, inside) => {
      const check = () =>
        checkLinksResolveInside(new Map(Object.entries(symlinks)), new Map(Object.entries(hardlinks)));
      if (inside) expect(check).not.toThrow();
      else expect(check).toThrow(expect.objectContaining({ code: 'archive-link' }));
    },
  );
});
