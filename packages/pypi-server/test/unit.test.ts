import { pythonJsonDumps } from '@pypi-graph/pyspec';
import { describe, expect, it } from 'vitest';
import { blake2b256, blake2b256Hex } from '../src/blake2b';
import {
  MIME_HTML,
  MIME_SIMPLE_HTML,
  MIME_SIMPLE_JSON,
  selectSimpleFormat,
} from '../src/content-negotiation';
import { parseFaultRules } from '../src/faults';
import { parseManifest } from '../src/manifest';
import { parseRange } from '../src/ranges';
import { parseSyntheticSpec } from '../src/synthetic';
import { isoformatZ, parseIsoMicros, strftimeSeconds } from '../src/times';
import { canonicalizeVersion, compareVersions } from '../src/version-order';
import { dumpFault, dumpResponse, parseMethodCall, XmlRpcFault } from '../src/xmlrpc';
import { python, pythonJson } from './helpers';

describe('blake2b-256', () => {
  it('matches Python hashlib for lengths around the block size and for chunked input', async () => {
    const lengths = [0, 1, 64, 127, 128, 129, 255, 256, 257, 1000, 70_000];
    const expected = await pythonJson<string[]>(
      `import hashlib, json
print(json.dumps([hashlib.blake2b(bytes((i * 31 + 7) & 255 for i in range(n)), digest_size=32).hexdigest() for n in ${JSON.stringify(lengths)}]))`,
    );
    for (const [k, n] of lengths.entries()) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 31 + 7) & 255;
      expect(blake2b256Hex(data), `length ${n}`).toBe(expected[k]);
      // the same bytes fed in uneven pieces
      const h = blake2b256();
      for (let off = 0; off < n; off += 61) h.update(data.subarray(off, off + 61));
      expect(Buffer.from(h.digest()).toString('hex'), `chunked length ${n}`).toBe(expected[k]);
    }
  });
});

describe('python-json', () => {
  it('writes what json.dumps(sort_keys=True, separators=(",", ":")) writes', async () => {
    const value = {
      b: [1, 2.5, null, true, false],
      a: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f é 😀',
      '10': 'ten',
      '9': 'nine',
      '1.0': { z: {}, y: [] },
      Ä: -3,
    };
    const ours = pythonJsonDumps(value);
    const theirs = await python(
      'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True, separators=(",", ":")), end="")',
      [JSON.stringify(value)],
    );
    expect(ours).toBe(theirs);
  });
});

describe('versions', () => {
  it('orders like packaging, with non-PEP 440 versions first', async () => {
    const pep440 = [
      '1.0.dev0',
      '1.0a1',
      '1.0a2.dev1',
      '1.0b1',
      '1.0rc1',
      '1.0',
      '1.0.post1',
      '1.0+local.1',
      '1.1',
      '2.0b1',
      '1!0.1',
    ];
    const shuffled = [...pep440].reverse();
    const sorted = [...shuffled].sort(compareVersions);
    const expected = await pythonJson<string[]>(
      `import json, sys
from pip._vendor.packaging.version import Version
print(json.dumps(sorted(json.loads(sys.argv[1]), key=Version)))`,
      [JSON.stringify(shuffled)],
    );
    expect(sorted).toEqual(expected);
    expect(['1.0', '2004d', '0.9'].sort(compareVersions)).toEqual(['2004d', '0.9', '1.0']);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
  });

  it('canonicalizes like packaging.utils.canonicalize_version', async () => {
    const inputs = [
      '1.0.0',
      '1.0',
      '2.0.0b1',
      'v1.2.0-RC1',
      '1.0.post0',
      '1.0-1',
      '1.0.dev',
      '0.0',
      '1!1.0',
      '2004d',
    ];
    const expected = await pythonJson<string[]>(
      `import json, sys
from pip._vendor.packaging.utils import canonicalize_version
print(json.dumps([canonicalize_version(v) for v in json.loads(sys.argv[1])]))`,
      [JSON.stringify(inputs)],
    );
    expect(inputs.map(canonicalizeVersion)).toEqual(expected);
  });
});

describe('times', () => {
  it('prints upload times the way datetime.isoformat() does', () => {
    const us = parseIsoMicros('2020-06-15T08:31:12.345678Z')!;
    expect(isoformatZ(us)).toBe('2020-06-15T08:31:12.345678Z');
    expect(strftimeSeconds(us)).toBe('2020-06-15T08:31:12');
    expect(isoformatZ(parseIsoMicros('2020-01-01T00:00:00Z')!)).toBe('2020-01-01T00:00:00Z');
    expect(isoformatZ(parseIsoMicros('2020-01-01T02:00:00.5+02:00')!)).toBe('2020-01-01T00:00:00.500000Z');
    expect(parseIsoMicros('yesterday')).toBeUndefined();
  });
});

describe('ranges', () => {
  it('parses single byte ranges per RFC 9110', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 10 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 100 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 100 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'partial', start: 0, end: 100 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ kind: 'partial', start: 50, end: 100 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=9-2', 100)).toEqual({ kind: 'full' });
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
  });
});

describe('content negotiation (PEP 691)', () => {
  const pip =
    'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
  it.each([
    [undefined, null, MIME_HTML],
    ['', null, MIME_HTML],
    ['*/*', null, MIME_HTML],
    [pip, null, MIME_SIMPLE_JSON],
    ['application/vnd.pypi.simple.latest+json', null, MIME_SIMPLE_JSON],
    ['application/vnd.pypi.simple.latest+html', null, MIME_SIMPLE_HTML],
    ['application/vnd.pypi.simple.v1+json;q=0.5, text/html;q=0.9', null, MIME_HTML],
    ['application/vnd.pypi.simple.v1+json, */*;q=0.1', null, MIME_SIMPLE_JSON],
    ['text/*', null, MIME_HTML],
    ['text/html;q=0, application/vnd.pypi.simple.v1+html', null, MIME_SIMPLE_HTML],
    ['application/json', null, undefined],
    ['text/html;q=0', null, undefined],
    ['text/html', 'application/vnd.pypi.simple.v1+json', MIME_SIMPLE_JSON],
    [undefined, 'application/vnd.pypi.simple.latest+json', MIME_SIMPLE_JSON],
    [undefined, 'text/xml', undefined],
  ])('Accept %s, ?format=%s → %s', (accept, format, expected) => {
    expect(selectSimpleFormat(accept, format)).toBe(expected);
  });
});

describe('XML-RPC codec', () => {
  it('writes responses byte for byte like xmlrpc.client.dumps(allow_none=True)', async () => {
    const value = [
      ['a&b<c>', null, 123, 'create', 1],
      new Map([
        ['k', 1],
        ['é', 2],
      ]),
      true,
      'x',
    ];
    const ours = dumpResponse(value);
    const theirs = await python(
      `import xmlrpc.client, sys
print(xmlrpc.client.dumps(([['a&b<c>', None, 123, 'create', 1], {'k': 1, 'é': 2}, True, 'x'],), methodresponse=True, allow_none=True), end='')`,
    );
    expect(ours).toBe(theirs);
    const fault = await python(
      `import xmlrpc.client
print(xmlrpc.client.dumps(xmlrpc.client.Fault(-32500, 'boom <x>'), methodresponse=True, allow_none=True), end='')`,
    );
    expect(dumpFault(new XmlRpcFault(-32500, 'boom <x>'))).toBe(fault);
  });

  it('reads calls written by xmlrpc.client.dumps', async () => {
    const body = await python(
      `import xmlrpc.client
print(xmlrpc.client.dumps((5, 'sp ace', [1, {'a': None}], True, 1.5, ''), 'some.method', allow_none=True), end='')`,
    );
    const call = parseMethodCall(body);
    expect(call.method).toBe('some.method');
    expect(call.params.slice(0, 4)).toEqual([5, 'sp ace', [1, { a: null }], true]);
    expect(call.params[5]).toBe('');
    expect(() => parseMethodCall('<methodCall><methodName>x</methodName><params>')).toThrow(
      /not well formed/,
    );
    expect(() => parseMethodCall('')).toThrow(/not well formed/);
  });
});

describe('input validation', () => {
  it('rejects bad manifests, fault rules and synthetic specs with config-invalid', () => {
    expect(() => parseManifest({ files: { 'a.tar.gz': { upload_time: 'soon' } } })).toThrow(/upload_time/);
    expect(() => parseManifest({ releases: { 'no-version': {} } })).toThrow();
    expect(() => parseManifest({ extra: 1 })).toThrow();
    expect(
      parseManifest({ releases: { 'Foo_Bar==1.0.0': { yanked: 'x' } } }).releases.get('foo-bar==1'),
    ).toEqual({
      yanked: 'x',
      yankedAtUs: undefined,
      removedAtUs: undefined,
    });
    expect(() => parseFaultRules([{ match: '(', kind: '429' }])).toThrow(/regular expression/);
    expect(() => parseFaultRules([{ match: '.', kind: 'explode' }])).toThrow();
    expect(parseFaultRules({ rules: [{ match: '^/simple/', kind: '503', times: 2 }] })).toHaveLength(1);
    expect(parseSyntheticSpec('projects=3,files-per-project=2')).toEqual({
      projects: 3,
      filesPerProject: 2,
      seed: 1,
      payloadBytes: 0,
    });
    expect(() => parseSyntheticSpec('projects=3')).toThrow(/files-per-project/);
    expect(() => parseSyntheticSpec('projects=x,files-per-project=2')).toThrow();
    expect(() => parseSyntheticSpec('projects=3,files-per-project=2,colour=5')).toThrow(/unknown/);
  });
});
