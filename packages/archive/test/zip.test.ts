import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bufferRandomAccess,
  openFileRandomAccess,
  openZip,
  openZipTail,
  type RandomAccess,
  type ZipArchive,
  type ZipEntry,
} from '../src';

const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const WHEELS = path.join(REPO, 'test/fixtures/wheels');
const REAL = path.join(REPO, 'test/fixtures/index/real');
const files = [
  ...readdirSync(WHEELS).map((f) => path.join(WHEELS, f)),
  ...readdirSync(REAL).map((f) => path.join(REAL, f)),
].filter((f) => f.endsWith('.whl'));

interface OracleEntry {
  name: string;
  compress_size: number;
  file_size: number;
  crc: number;
  header_offset: number;
  /** sha256 of the member as zipfile reads it, or the error it raised. */
  sha256?: string;
  error?: string;
}
type Oracle = Record<string, { entries: OracleEntry[]; comment: number } | { error: string }>;

// CPython's zipfile, an independent reader, lists and reads every member of every wheel.
const ORACLE = `
import hashlib, json, sys, zipfile
out = {}
for path in sys.argv[1:]:
    try:
        with zipfile.ZipFile(path) as z:
            entries = []
            for i in z.infolist():
                e = dict(name=i.filename, compress_size=i.compress_size, file_size=i.file_size,
                         crc=i.CRC, header_offset=i.header_offset)
                try:
                    if i.file_size > 16 * 1024 * 1024:
                        raise ValueError("not read: too large for the oracle")
                    with z.open(i) as f:
                        e["sha256"] = hashlib.sha256(f.read()).hexdigest()
                except Exception as err:
                    e["error"] = repr(err)
                entries.append(e)
            out[path] = dict(entries=entries, comment=len(z.comment))
    except Exception as err:
        out[path] = dict(error=repr(err))
print(json.dumps(out))
`;

let oracle: Oracle;

beforeAll(async () => {
  const { stdout } = await promisify(execFile)('python3', ['-c', ORACLE, ...files], { maxBuffer: 64 << 20 });
  oracle = JSON.parse(stdout) as Oracle;
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function withZip<T>(file: string, fn: (zip: ZipArchive) => Promise<T>): Promise<T> {
  const source = await openFileRandomAccess(file);
  try {
    return await fn(await openZip(source));
  } finally {
    await source.close();
  }
}

async function codeOf(p: Promise<unknown>): Promise<FailureCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (!(err instanceof CrawlError)) throw err;
    return err.code;
  }
}

const metadataEntry = (zip: ZipArchive) =>
  zip.entries.find((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name))!;

describe('openZip and readEntry agree with CPython zipfile', () => {
  it('lists the same entries, sizes, CRCs and offsets, and reads the same bytes', async () => {
    let compared = 0;
    for (const file of files) {
      const expected = oracle[file]!;
      if ('error' in expected) continue;
      await withZip(file, async (zip) => {
        const label = path.basename(file);
        expect(
          zip.entries.map((e) => ({
            name: e.name,
            compress_size: e.compressedSize,
            file_size: e.uncompressedSize,
            crc: e.crc32,
            header_offset: e.localHeaderOffset,
          })),
          label,
        ).toEqual(
          expected.entries.map(({ name, compress_size, file_size, crc, header_offset }) => ({
            name,
            compress_size,
            file_size,
            crc,
            header_offset,
          })),
        );
        expect(zip.comment.length, label).toBe(expected.comment);
        for (const [i, want] of expected.entries.entries()) {
          if (!want.sha256) continue;
          const got = await zip
            .readEntry(zip.entries[i]!, { maxBytes: 64 << 20 })
            .then(sha256, (err: CrawlError) => err.code);
          // Where zipfile reads a member, we read the same bytes — except where we are stricter
          // on purpose: a local header that disagrees with the central directory.
          if (label.startsWith('wf_lyinglocal') && want.name.endsWith('METADATA')) {
            expect(got).toBe('archive-corrupt');
          } else if (label.startsWith('wf_bomb') || label.startsWith('wf_bzip2')) {
            if (!want.name.endsWith('METADATA')) expect(got, `${label} ${want.name}`).toBe(want.sha256);
          } else {
            expect(got, `${label} ${want.name}`).toBe(want.sha256);
          }
          compared++;
        }
      });
    }
    // Every member of pip and both setuptools wheels, and of the small fixtures.
    expect(compared).toBeGreaterThan(1000);
  });

  it('reads zip64 records and extra fields, a 64 KiB comment, data descriptors and long local extras', async () => {
    const zip64 = await withZip(path.join(WHEELS, 'wf_zip64-1.0-py3-none-any.whl'), async (zip) => zip);
    expect(zip64.zip64).toBe(true);
    const comment = await withZip(path.join(WHEELS, 'wf_comment-1.0-py3-none-any.whl'), async (zip) => zip);
    expect(comment.comment.length).toBe(0xffff);
    for (const name of ['wf_descriptor', 'wf_longextra', 'wf_stored', 'wf_zip64', 'wf_comment']) {
      const file = path.join(WHEELS, `${name}-1.0-py3-none-any.whl`);
      const text = await withZip(file, async (zip) =>
        zip.readEntry(metadataEntry(zip), { maxBytes: 1 << 20 }),
      );
      expect(text.toString('utf8')).toContain(`Name: ${name}\n`);
    }
  });
});

describe('broken and hostile archives fail with a code', () => {
  const cases: Array<[string, FailureCode]> = [
    ['wf_truncated', 'archive-corrupt'],
    ['wf_badcd', 'archive-corrupt'],
    ['wf_notzip', 'archive-corrupt'],
    ['wf_badcrc', 'archive-corrupt'],
    ['wf_lyinglocal', 'archive-corrupt'],
    ['wf_bomb', 'archive-bomb'],
    ['wf_bomblie', 'archive-bomb'],
    ['wf_bzip2', 'archive-unsupported'],
  ];
  for (const [name, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const file = path.join(WHEELS, `${name}-1.0-py3-none-any.whl`);
      const got = await codeOf(
        withZip(file, (zip) => zip.readEntry(metadataEntry(zip), { maxBytes: 4 << 20 })),
      );
      expect(got).toBe(code);
    });
  }

  it('enforces the caps on entries, central directory size, name length and entry size', async () => {
    const pip = path.join(REAL, 'pip-23.2.1-py3-none-any.whl');
    const open = async (limits: object) => {
      const source = await openFileRandomAccess(pip);
      try {
        return await openZip(source, { limits });
      } finally {
        await source.close();
      }
    };
    expect(await codeOf(open({ maxEntries: 506 }))).toBe('archive-too-many-entries');
    expect(await codeOf(open({ maxEntries: 507 }))).toBe('ok');
    expect(await codeOf(open({ maxCentralDirectoryBytes: 40_000 }))).toBe('archive-too-large');
    expect(await codeOf(open({ maxNameBytes: 20 }))).toBe('archive-unsupported');
    const tooBig = withZip(pip, (zip) =>
      zip.readEntry(metadataEntry(zip), { maxBytes: 4000, tooLargeCode: 'metadata-too-large' }),
    );
    expect(await codeOf(tooBig)).toBe('metadata-too-large');
  });

  it('refuses bytes after the end record and data before the archive', async () => {
    const good = readFileSync(path.join(WHEELS, 'wf_stored-1.0-py3-none-any.whl'));
    const open = (bytes: Buffer) => openZip(bufferRandomAccess(bytes));
    expect(await codeOf(open(good))).toBe('ok');
    expect(await codeOf(open(Buffer.concat([good, Buffer.from('trailing')])))).toBe('archive-corrupt');
    expect(await codeOf(open(Buffer.concat([Buffer.from('MZ stub'), good])))).toBe('archive-corrupt');
    expect(await codeOf(open(good.subarray(0, 21)))).toBe('archive-corrupt');
  });

  it('never returns wrong bytes: every single-byte flip reads the original or fails with an archive code', async () => {
    for (const name of ['wf_stored', 'wf_zip64']) {
      const good = readFileSync(path.join(WHEELS, `${name}-1.0-py3-none-any.whl`));
      const original = await withZip(path.join(WHEELS, `${name}-1.0-py3-none-any.whl`), (zip) =>
        zip.readEntry(zip.entries[1]!, { maxBytes: 1 << 20 }),
      );
      const outcomes = new Map<string, number>();
      for (let i = 0; i < good.length; i++) {
        const bytes = Buffer.from(good);
        bytes[i] = bytes[i]! ^ 0x55;
        let outcome: string;
        try {
          const zip = await openZip(bufferRandomAccess(bytes));
          const entry: ZipEntry | undefined = zip.entries[1];
          const data = entry ? await zip.readEntry(entry, { maxBytes: 1 << 20 }) : original;
          expect(data.equals(original), `${name}: flip at ${i} read different bytes`).toBe(true);
          outcome = 'same';
        } catch (err) {
          expect(err, `${name}: flip at ${i}`).toBeInstanceOf(CrawlError);
          outcome = (err as CrawlError).code;
          expect(outcome, `${name}: flip at ${i}`).toMatch(/^archive-/);
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      expect(outcomes.get('archive-corrupt')).toBeGreaterThan(0);
      expect(outcomes.get('same')).toBeGreaterThan(0);
    }
  });

  it('reads a local wheel in three reads: tail, central directory, entry', async () => {
    const bytes = readFileSync(path.join(REAL, 'setuptools-66.1.1-py3-none-any.whl'));
    const reads: Array<[number, number]> = [];
    const inner = bufferRandomAccess(bytes);
    const source: RandomAccess = {
      size: inner.size,
      read: (a, b) => {
        reads.push([a, b]);
        return inner.read(a, b);
      },
    };
    const zip = await openZip(source);
    await zip.readEntry(metadataEntry(zip), { maxBytes: 1 << 20 });
    // the tail; the central directory with the 20 bytes where a zip64 locator would be; METADATA
    expect(reads).toHaveLength(3);
    expect(reads[1]).toEqual([1241036, bytes.length - 23]);
    expect(reads[0]).toEqual([bytes.length - 65536, bytes.length - 1]);
    const entry = metadataEntry(zip);
    expect(reads[2]![0]).toBe(entry.localHeaderOffset);
    expect(reads[2]![1] - reads[2]![0]).toBeLessThan(entry.compressedSize + 30 + entry.rawName.length + 300);
  });
});

// Zips with `PK\x01\x02` where a resynchronising reader could trip on it, made with zipfile:
// forged central directory records in file data just before the directory, in an extra field,
// in an entry comment, and the signature inside a name.
const TRICKY = `
import os, random, struct, sys, zipfile
out = sys.argv[1]
rng = random.Random(1)
def forged(name, offset=0):
    n = name.encode()
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, 0, 10, 10, len(n), 0, 0, 0, 0, 0, offset) + n
def add(z, name, data, extra=b"", comment=b"", method=zipfile.ZIP_DEFLATED):
    info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
    info.compress_type = method
    info.extra = extra
    info.comment = comment
    z.writestr(info, data)
with zipfile.ZipFile(os.path.join(out, "tricky.zip"), "w") as z:
    for i in range(300):
        add(z, "pkg/mod%03d.py" % i, rng.randbytes(200))
    add(z, "pkg/PK\\x01\\x02name.py", b"x")
    fake = forged("evil-1.0.dist-info/METADATA")
    add(z, "pkg/extra.py", b"x", extra=struct.pack("<HH", 0xCAFE, len(fake)) + fake)
    add(z, "pkg/comment.py", b"x", comment=fake)
    for i in range(20):
        add(z, "pkg/after%02d.py" % i, b"y")
    add(z, "pkg/fake.bin", b"".join(forged("evil-%d.dist-info/METADATA" % i) for i in range(40)), method=zipfile.ZIP_STORED)
    add(z, "tricky-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\\nName: tricky\\nVersion: 1.0\\n")
    add(z, "tricky-1.0.dist-info/RECORD", b"")
`;

describe('openZipTail: entries from the end of the central directory', () => {
  let tricky: Buffer;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zip-tail-'));
    try {
      await promisify(execFile)('python3', ['-c', TRICKY, dir]);
      tricky = readFileSync(path.join(dir, 'tricky.zip'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** A RandomAccess over `bytes` that records its reads. */
  function recorded(bytes: Buffer): RandomAccess & { reads: Array<[number, number]> } {
    const inner = bufferRandomAccess(bytes);
    const reads: Array<[number, number]> = [];
    return {
      size: inner.size,
      reads,
      read: (a, b) => {
        reads.push([a, b]);
        return inner.read(a, b);
      },
    };
  }

  const summary = (e: ZipEntry) => [e.index, e.name, e.localHeaderOffset, e.crc32, e.compressedSize];

  /** Start and end of each central directory record. */
  function records(bytes: Buffer, zip: ZipArchive): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let at = zip.centralDirectoryOffset;
    for (let i = 0; i < zip.entries.length; i++) {
      const end =
        at + 46 + bytes.readUInt16LE(at + 28) + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
      out.push([at, end]);
      at = end;
    }
    return out;
  }

  /**
   * Opens `bytes` with tails reaching `step`-byte steps over the central directory (and a little
   * before it; every byte within `fine` of the given points), and checks: only the tail is read;
   * the entries are exactly the last ones openZip lists, or — only where `forgedWindows` says the
   * tail starts inside a record that hides a forged one (the documented limit) — the forged
   * record and then those; `open()` lists what openZip lists.
   */
  async function sweep(
    bytes: Buffer,
    step: number,
    forgedWindows: Array<[number, number]> = [],
    fine: { around: number[]; by: number } = { around: [], by: 0 },
  ) {
    const full = await openZip(bufferRandomAccess(bytes));
    const want = full.entries.map(summary);
    const wantText = JSON.stringify(want);
    const cdEnd = full.centralDirectoryOffset + full.centralDirectorySize;
    const tails = new Set<number>();
    for (
      let t = 22 + (bytes.length - cdEnd);
      t < bytes.length - full.centralDirectoryOffset + 300;
      t += step
    ) {
      tails.add(t);
    }
    for (const at of fine.around) {
      for (let start = at - fine.by; start <= at + fine.by; start++) tails.add(bytes.length - start);
    }
    const counts = { complete: 0, partial: 0, empty: 0, forged: 0 };
    for (const tailBytes of [...tails].sort((x, y) => x - y)) {
      const source = recorded(bytes);
      const tail = await openZipTail(source, { tailBytes });
      const tailStart = bytes.length - tailBytes;
      if (source.reads.some(([a]) => a < tailStart)) expect.fail(`tail ${tailBytes}: read before the tail`);
      const got = tail.entries.map(summary);
      const inWindow = forgedWindows.some(([from, to]) => tailStart > from && tailStart <= to);
      const forged = inWindow && /^evil/.test(String(got[0]?.[1]));
      const real = forged ? got.slice(1) : got;
      const expected = want.slice(want.length - real.length);
      if (JSON.stringify(real) !== JSON.stringify(expected))
        expect(real, `tail ${tailBytes}`).toEqual(expected);
      expect(tail.complete).toBe(tailStart <= full.centralDirectoryOffset);
      expect(tail.entryCount).toBe(full.entries.length);
      if (forged) counts.forged++;
      else if (tail.complete) counts.complete++;
      else if (got.length > 0) counts.partial++;
      else counts.empty++;
      if (JSON.stringify((await tail.open()).entries.map(summary)) !== wantText) {
        expect.fail(`tail ${tailBytes}: open() lists other entries than openZip`);
      }
    }
    return counts;
  }

  it('holds the last entries of the real wheels, whatever the tail size', async () => {
    for (const name of ['pip-23.2.1', 'setuptools-65.5.0', 'setuptools-66.1.1']) {
      const counts = await sweep(readFileSync(path.join(REAL, `${name}-py3-none-any.whl`)), 97);
      expect(counts.partial, name).toBeGreaterThan(100);
      expect(counts.complete, name).toBeGreaterThan(0);
    }
  });

  it('is not fooled by forged records in file data, names, extra fields and comments inside the tail', async () => {
    const full = await openZip(bufferRandomAccess(tricky));
    // The records whose extra field or comment hides a forged one, and where that one starts.
    const windows: Array<[number, number]> = [];
    for (const [start, end] of records(tricky, full)) {
      const at = tricky.subarray(start + 4, end).indexOf(Buffer.from('PK\x01\x02', 'latin1'));
      const forged = start + 4 + at;
      if (at >= 0 && tricky.readUInt16LE(forged + 28) === 'evil-1.0.dist-info/METADATA'.length) {
        windows.push([start, forged]);
      }
    }
    expect(windows).toHaveLength(2);
    // Every tail start around the hiding records and the stored forged data, coarser elsewhere.
    const forgedData = tricky.indexOf(Buffer.from('evil-20.dist-info/METADATA')) - 46;
    expect(forgedData).toBeLessThan(full.centralDirectoryOffset);
    const around = [...windows.flat(), full.centralDirectoryOffset, forgedData];
    const counts = await sweep(tricky, 29, windows, { around, by: 120 });
    expect(counts.forged).toBeGreaterThan(0);
    expect(counts.partial).toBeGreaterThan(500);
    expect(counts.complete).toBeGreaterThan(100);
    // With both hiding records in the tail, neither they nor the forged records are believed,
    // and the forged ones in the stored data before the directory are never even looked at.
    const tail = await openZipTail(bufferRandomAccess(tricky), {
      tailBytes: tricky.length - windows[0]![0] + 10,
    });
    const names = tail.entries.map((e) => e.name);
    expect(names[0]).toBe('pkg/after00.py');
    expect(names.filter((n) => n.startsWith('evil'))).toEqual([]);
    expect(names.at(-2)).toBe('tricky-1.0.dist-info/METADATA');
  });

  it('reads entries from the end with every check of openZip', async () => {
    const tail = await openZipTail(bufferRandomAccess(tricky), { tailBytes: 2000 });
    expect(tail.complete).toBe(false);
    const metadata = tail.entries.find((e) => e.name === 'tricky-1.0.dist-info/METADATA')!;
    expect((await tail.readEntry(metadata, { maxBytes: 1000 })).toString()).toContain('Name: tricky');
    expect(await codeOf(tail.readEntry(metadata, { maxBytes: 10, tooLargeCode: 'metadata-too-large' }))).toBe(
      'metadata-too-large',
    );
    // A believed forged record (the tail starts inside the record whose comment hides it) that
    // points at another entry's local header: the local header check refuses it.
    const full = await openZip(bufferRandomAccess(tricky));
    const hiding = full.entries.findIndex((e) => e.name === 'pkg/comment.py');
    const [start] = records(tricky, full)[hiding]!;
    const fooled = await openZipTail(bufferRandomAccess(tricky), { tailBytes: tricky.length - start - 1 });
    const evil = fooled.entries[0]!;
    expect(evil.name).toBe('evil-1.0.dist-info/METADATA');
    expect(evil.index).toBe(hiding);
    expect(await codeOf(fooled.readEntry(evil, { maxBytes: 1000 }))).toBe('archive-corrupt');
  });

  it('keeps the caps and the checks that need only the end record', async () => {
    const pip = readFileSync(path.join(REAL, 'pip-23.2.1-py3-none-any.whl'));
    const open = (limits: object) => openZipTail(bufferRandomAccess(pip), { tailBytes: 4096, limits });
    expect(await codeOf(open({ maxEntries: 506 }))).toBe('archive-too-many-entries');
    expect(await codeOf(open({ maxCentralDirectoryBytes: 40_000 }))).toBe('archive-too-large');
    expect(await codeOf(openZipTail(bufferRandomAccess(Buffer.concat([pip, Buffer.from('x')]))))).toBe(
      'archive-corrupt',
    );
    // A broken record at the end: nothing is certain; the whole directory says what is wrong.
    const broken = Buffer.from(pip);
    const last = broken.lastIndexOf(Buffer.from('PK\x01\x02', 'latin1'));
    broken.writeUInt16LE(0xffff, last + 32); // a comment running past the directory
    const tail = await openZipTail(bufferRandomAccess(broken), { tailBytes: 4096 });
    expect(tail.entries).toEqual([]);
    expect(await codeOf(tail.open())).toBe('archive-corrupt');
  });

  it('reads a zip64 directory from the tail', async () => {
    const bytes = readFileSync(path.join(WHEELS, 'wf_zip64-1.0-py3-none-any.whl'));
    await sweep(bytes, 1);
    const tail = await openZipTail(bufferRandomAccess(bytes), { tailBytes: 200 });
    expect(tail.zip64).toBe(true);
  });
});
