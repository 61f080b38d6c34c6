import { readFileSync } from 'node:fs';
import { CrawlError } from '@pypi-graph/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCoreMetadata, readDependencyFields, readDescription } from '../src/index';
import { installedMetadataFiles, rng, runOracle } from './helpers';

type Message = { headers: [string, string][]; body: string | null };
type FileAnswer =
  | (Message & {
      requiresDist: string[];
      providesExtra: string[];
      requiresPython: string | null;
      packaging: { requires_dist: string[]; provides_extra: string[]; requires_python: string | null };
    })
  | null;

const lines = (...ls: string[]) => ls.join('\n');

describe('parseCoreMetadata', () => {
  it('keeps folded values as email.parser does and unfolds dependency fields', () => {
    const meta = parseCoreMetadata(
      lines(
        'Metadata-Version: 1.2',
        'Name: foo',
        'Version: 1.0',
        'Summary: one',
        '  two',
        '\tthree',
        'Requires-Dist: bar',
        '  (>=1.0)',
        '',
      ),
    );
    expect(meta.get('summary')).toBe('one\n  two\n\tthree');
    expect(readDependencyFields(meta).requiresDist).toEqual(['bar  (>=1.0)']);
  });

  it('reads the Description header with its 8-space and `|` continuations, or the body', () => {
    const eight = parseCoreMetadata(
      lines('Name: foo', 'Description: Title', '        ', '        indented:', '            code', ''),
    );
    expect(readDescription(eight)).toBe('Title\n\nindented:\n    code');
    const pipe = parseCoreMetadata(
      lines('Name: foo', 'Description: Title', '       |', '       |  code', ''),
    );
    expect(readDescription(pipe)).toBe('Title\n\n  code');
    const body = parseCoreMetadata(
      lines('Metadata-Version: 2.1', 'Name: foo', '', '# Title', '', 'Name: not a header', ''),
    );
    expect(body.get('Name')).toBe('foo');
    expect(body.headers).toHaveLength(2);
    expect(readDescription(body)).toBe('# Title\n\nName: not a header\n');
    expect(readDescription(parseCoreMetadata('Name: foo\n'))).toBeNull();
  });

  it('keeps every value of repeated fields and the first of single ones', () => {
    const meta = parseCoreMetadata(
      lines(
        'Metadata-Version: 2.2',
        'Name: first',
        'Name: second',
        'Version: 1',
        'Classifier: A',
        'Classifier: B',
        'Requires-Dist: a',
        'Requires-Dist: b; extra == "x"',
        'Provides-Extra: x',
        'Provides-Extra: Y_z',
        'Requires-External: libpq (>=9)',
        'Dynamic: Requires-Dist',
        'Dynamic: Provides-Extra',
        'Requires-Dist:',
        'Requires-Python: >=3.8 ',
      ),
    );
    expect(meta.getAll('classifier')).toEqual(['A', 'B']);
    expect(readDependencyFields(meta)).toEqual({
      metadataVersion: '2.2',
      name: 'first',
      version: '1',
      requiresDist: ['a', 'b; extra == "x"'],
      requiresPython: '>=3.8',
      providesExtra: ['x', 'Y_z'],
      requiresExternal: ['libpq (>=9)'],
      dynamic: ['Requires-Dist', 'Provides-Extra'],
    });
  });

  it('reads Latin-1 lines without failing, keeping UTF-8 lines', () => {
    const bytes = Buffer.concat([
      Buffer.from('Name: caf\xe9\nVersion: 1.0\nAuthor: ', 'latin1'),
      Buffer.from('Zoë\n', 'utf8'),
      Buffer.from('\nBody \xff\n', 'latin1'),
    ]);
    const meta = parseCoreMetadata(bytes);
    expect(meta.get('Name')).toBe('café');
    expect(meta.get('Author')).toBe('Zoë');
    expect(meta.body).toBe('Body ÿ\n');
  });

  it('skips a byte-order mark and reads CRLF and CR line endings', () => {
    const meta = parseCoreMetadata(
      Buffer.from('\ufeffName: foo\r\nVersion: 1\r\nSummary: a\r\n b\r\rBody\r\n'),
    );
    expect(meta.headers).toEqual([
      ['Name', 'foo'],
      ['Version', '1'],
      ['Summary', 'a\n b'],
    ]);
    expect(meta.body).toBe('Body\n');
  });

  it('ends the headers at a line that is not a header, which starts the body', () => {
    const meta = parseCoreMetadata(lines('Name: foo', 'this is no header', 'Version: 1.0'));
    expect(meta.headers).toEqual([['Name', 'foo']]);
    expect(meta.body).toBe('this is no header\nVersion: 1.0');
    expect(() => readDependencyFields(meta)).toThrow(expect.objectContaining({ code: 'metadata-invalid' }));
  });

  it('caps the size', () => {
    const big = `Name: x\nVersion: 1\n\n${'x'.repeat(2000)}`;
    expect(() => parseCoreMetadata(Buffer.from(big), 1000)).toThrow(
      expect.objectContaining({ code: 'metadata-too-large' }),
    );
    expect(() => parseCoreMetadata(big, 1000)).toThrow(
      expect.objectContaining({ code: 'metadata-too-large' }),
    );
    expect(parseCoreMetadata(big, 3000).get('Name')).toBe('x');
  });

  it('rejects input without headers, and dependency fields without Name or Version', () => {
    for (const bad of ['', '\n', 'just text', ' continuation only\n']) {
      expect(() => parseCoreMetadata(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'metadata-invalid' }),
      );
    }
    expect(() => readDependencyFields(parseCoreMetadata('Name: x\n'))).toThrow(
      expect.objectContaining({ code: 'metadata-invalid' }),
    );
    expect(() => readDependencyFields(parseCoreMetadata('Version: 1\nName:   \n'))).toThrow(
      expect.objectContaining({ code: 'metadata-invalid' }),
    );
  });
});

const PIECES = [
  'Metadata-Version: 2.1',
  'Name: foo',
  'Name:bar',
  'Version: 1.0',
  'Requires-Dist: a (>=1)',
  'Requires-Dist:',
  'requires-dist:   b ; extra == "x"  ',
  'Summary: x  ',
  'Summary:\t y',
  'X-Weird_Header!: z',
  ':novalue',
  'From someone',
  'From: me',
  'Bad Header: x',
  'Ä: y',
  'nocolon',
  ' cont',
  '\tcont',
  '   ',
  '',
  'Description: |',
  '       |line',
  '        line',
  'Key:a:b',
];

function genMessage(r: ReturnType<typeof rng>): string {
  const n = r.int(9);
  let out = r.chance(0.8) ? 'Name: start' : r.pick(PIECES);
  for (let i = 0; i < n; i++) out += r.pick(['\n', '\n', '\r\n', '\r']) + r.pick(PIECES);
  return out + r.pick(['', '\n', '\r\n']);
}

describe('parseCoreMetadata against email.parser', () => {
  let texts: string[];
  let files: string[];
  let oracle: { messages: Message[]; metadataFiles: FileAnswer[] };

  beforeAll(() => {
    const r = rng(822);
    texts = [...new Set(Array.from({ length: 3000 }, () => genMessage(r)))];
    files = installedMetadataFiles();
    oracle = runOracle({ messages: texts, metadataFiles: files });
  });

  it('agrees on headers and body of generated messages', () => {
    const mismatches: unknown[] = [];
    texts.forEach((text, i) => {
      const want = oracle.messages[i]!;
      let got: Message;
      try {
        const meta = parseCoreMetadata(text);
        got = { headers: meta.headers, body: meta.body };
      } catch (err) {
        if (!(err instanceof CrawlError) || err.code !== 'metadata-invalid') throw err;
        got = { headers: [], body: want.body }; // no headers: Python parses it all as a body
      }
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ text, got, want });
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('agrees on the METADATA and PKG-INFO files of this machine', () => {
    expect(files.length).toBeGreaterThan(50);
    let withDeps = 0;
    const mismatches: unknown[] = [];
    files.forEach((file, i) => {
      const want = oracle.metadataFiles[i];
      if (!want) return; // not UTF-8
      const meta = parseCoreMetadata(readFileSync(file));
      const deps = readDependencyFields(meta);
      if (deps.requiresDist.length) withDeps++;
      const got = {
        headers: meta.headers,
        body: meta.body,
        requiresDist: deps.requiresDist,
        providesExtra: deps.providesExtra,
        requiresPython: deps.requiresPython,
      };
      const { packaging, ...email } = want;
      if (JSON.stringify(got) !== JSON.stringify(email)) mismatches.push({ file, got, want: email });
      const fromPackaging = {
        requiresDist: packaging.requires_dist.map((s) => s.trim()).filter(Boolean),
        providesExtra: packaging.provides_extra.map((s) => s.trim()).filter(Boolean),
        requiresPython: packaging.requires_python?.trim() || null,
      };
      const ours = {
        requiresDist: deps.requiresDist,
        providesExtra: deps.providesExtra,
        requiresPython: deps.requiresPython,
      };
      if (JSON.stringify(ours) !== JSON.stringify(fromPackaging))
        mismatches.push({ file, ours, fromPackaging });
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(withDeps).toBeGreaterThan(20);
  });
});
