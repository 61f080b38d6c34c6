import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bufferRandomAccess,
  openFileRandomAccess,
  openZip,
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
