import type { FailureCode } from '@pypi-graph/core';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  compareVersions,
  evaluateMarker,
  isValidProjectName,
  machNixName,
  markerToString,
  normalizeExtra,
  normalizeSpecifier,
  parseCoreMetadata,
  parseMarker,
  parseRequirement,
  parseSdistFilename,
  parseVersion,
  parseWheelFilename,
  pep503Name,
  readDependencyFields,
  readDescription,
  satisfies,
} from '../src/index';
import { genMarker, genRequirement, genSpecifierSet, genVersion, mutate } from './generators';
import { ENVIRONMENTS, expectOnlyCrawlErrors, installedRequirements, type Rng, rng } from './helpers';

// Every parser, fed random and mutated input: nothing may throw but a CrawlError with the parser's
// code, and nothing may take long (each call is timed; catastrophic regex backtracking would show).

const SLOW_MS = 250;
let slowest = { ms: 0, input: '' as unknown };

function timed(input: unknown, fn: () => void): void {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  if (ms > slowest.ms) slowest = { ms, input };
}

const envs = Object.values(ENVIRONMENTS);

function stringParsers(s: string): void {
  timed(s, () => {
    expectOnlyCrawlErrors(
      () => {
        const r = parseRequirement(s);
        if (r.marker) {
          markerToString(r.marker);
          for (const env of envs)
            expectOnlyCrawlErrors(
              () => evaluateMarker(r.marker!, { ...env, extra: s }),
              ['marker-invalid'],
              s,
            );
        }
      },
      ['requirement-invalid'],
      s,
    );
    expectOnlyCrawlErrors(() => markerToString(parseMarker(s)), ['marker-invalid'], s);
    expectOnlyCrawlErrors(() => parseVersion(s), ['version-invalid'], s);
    expectOnlyCrawlErrors(() => normalizeSpecifier(s), ['specifier-invalid'], s);
    expectOnlyCrawlErrors(() => satisfies(s, s), ['specifier-invalid'], s);
    expectOnlyCrawlErrors(() => satisfies(s.slice(0, 8), `>=${s}`), ['specifier-invalid'], s);
    compareVersions(s, s.slice(1));
    expectOnlyCrawlErrors(() => parseWheelFilename(s), ['filename-invalid'], s);
    expectOnlyCrawlErrors(() => parseSdistFilename(s), ['filename-invalid'], s);
    expectOnlyCrawlErrors(() => parseSdistFilename(s, s.slice(0, 5)), ['filename-invalid'], s);
    pep503Name(s);
    machNixName(s);
    normalizeExtra(s);
    isValidProjectName(s);
    bucketOf(s);
  });
}

const METADATA_CODES: FailureCode[] = ['metadata-invalid', 'metadata-too-large'];

function metadataParsers(input: Uint8Array | string): void {
  timed(typeof input === 'string' ? input.slice(0, 100) : Buffer.from(input).toString('latin1', 0, 100), () =>
    expectOnlyCrawlErrors(
      () => {
        const meta = parseCoreMetadata(input, 64 * 1024);
        readDescription(meta);
        expectOnlyCrawlErrors(() => readDependencyFields(meta), ['metadata-invalid'], input);
      },
      METADATA_CODES,
      input,
    ),
  );
}

const ALPHABET = Array.from(
  'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 \t\n\r()[];,@\'"<>=!~.*+-_\\:/#{}|' +
    '\u00e9\u00a0\u3000\u2028\ufeff\u017fK\u0130\u0660\ud83d\ude00\ud800\x00\x85',
);

function randomString(r: Rng): string {
  return Array.from({ length: r.int(60) }, () => r.pick(ALPHABET)).join('');
}

function randomBytes(r: Rng): Uint8Array {
  const n = r.int(400);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = r.chance(0.15)
      ? r.pick([0x0a, 0x0d, 0x3a, 0x20, 0x09])
      : r.chance(0.7)
        ? 0x20 + r.int(95)
        : r.int(256);
  }
  return out;
}

const METADATA_SEEDS = [
  'Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: bar (>=1.0); extra == "x"\nProvides-Extra: x\n\nBody\n',
  'Metadata-Version: 1.0\r\nName: foo\r\nVersion: 1.0\r\nDescription: a\r\n        b\r\n',
  '\ufeffName: x\nVersion: 1\nSummary: a\n  b\n',
];

const PATHOLOGICAL = [
  `${'1.'.repeat(20000)}x`,
  '='.repeat(50000),
  `${'a'.repeat(100000)}!`,
  `${'a-'.repeat(50000)}`,
  '('.repeat(20000),
  `foo;${'('.repeat(20000)}`,
  `foo==${'1'.repeat(20000)}x`,
  `foo===${' '.repeat(20000)}`,
  `foo[${'a,'.repeat(20000)}`,
  `foo; ${'os_name=="a" and '.repeat(5000)}x`,
  `foo; ${'os_name=="a" and '.repeat(5000)}os_name=="b"`,
  `1${'.0'.repeat(20000)}a`,
  `${' '.repeat(100000)}x`,
  `${'\u00a0'.repeat(50000)}1.0x`,
  `1.0${'-'.repeat(20000)}`,
  `1.0+${'a.'.repeat(20000)}`,
  `>=1.0${'.0'.repeat(20000)}.post1x`,
  `==${'1.'.repeat(20000)}*x`,
  `~=1${'.1'.repeat(20000)}rc`,
  `foo @ ${'x'.repeat(100000)} ;`,
  `foo; python_version == "${'\\x41'.repeat(20000)}"`,
  `foo; python_version == '${'3.'.repeat(20000)}'`,
  `${'foo-1.0-'.repeat(10000)}.tar.gz`,
  `${'x-'.repeat(20000)}1.whl`,
];

describe('fuzz', () => {
  it('survives random strings, mutations and pathological inputs in every string parser', () => {
    slowest = { ms: 0, input: '' };
    const r = rng(2024);
    const real = installedRequirements();
    let n = 0;
    for (let i = 0; i < 6000; i++, n++) stringParsers(randomString(r));
    for (let i = 0; i < 6000; i++, n++) {
      const seed = r.pick([genRequirement, genMarker, genSpecifierSet, genVersion])(r);
      stringParsers(r.chance(0.3) ? seed : mutate(r, seed));
    }
    for (let i = 0; i < 3000; i++, n++) stringParsers(mutate(r, r.pick(real)));
    for (const p of PATHOLOGICAL) {
      stringParsers(p);
      n++;
    }
    expect(n).toBeGreaterThan(15000);
    expect(slowest.ms, `slowest: ${JSON.stringify(slowest.input).slice(0, 200)}`).toBeLessThan(SLOW_MS);
  });

  it('survives random bytes, mutated metadata and huge inputs in the metadata parser', () => {
    slowest = { ms: 0, input: '' };
    const r = rng(822);
    let n = 0;
    for (let i = 0; i < 8000; i++, n++) metadataParsers(randomBytes(r));
    for (let i = 0; i < 6000; i++, n++) {
      const text = mutate(r, mutate(r, r.pick(METADATA_SEEDS)));
      metadataParsers(r.chance(0.5) ? text : Buffer.from(text, r.chance(0.5) ? 'utf8' : 'latin1'));
    }
    for (const huge of [
      `Name: x\n${' cont\n'.repeat(10000)}`,
      'a:'.repeat(30000),
      '\r'.repeat(60000),
      `Name: x\n\n${'\xff'.repeat(60000)}`,
      'x'.repeat(70000),
    ]) {
      metadataParsers(huge);
      metadataParsers(Buffer.from(huge, 'latin1'));
      n += 2;
    }
    expect(n).toBeGreaterThan(14000);
    expect(slowest.ms, `slowest: ${JSON.stringify(slowest.input).slice(0, 200)}`).toBeLessThan(SLOW_MS);
  });
});
