import { describe, expect, it } from 'vitest';
import { JsonObjectStream, JsonStreamSyntaxError } from '../src/json-stream';

type Seen = { members: Record<string, unknown>; elements: Array<[string | number, unknown]> };

/** Reads `text` through the stream in chunks of `size` bytes. */
function read(
  text: string | Buffer,
  size: number,
  streamed = 'releases',
  keep = ['info', 'last_serial'],
): Seen {
  const seen: Seen = { members: {}, elements: [] };
  const stream = new JsonObjectStream(streamed, keep, {
    member: (name, value) => {
      seen.members[name] = value;
    },
    element: (key, value) => {
      seen.elements.push([key, value]);
    },
  });
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  for (let i = 0; i < bytes.length; i += size) stream.write(bytes.subarray(i, i + size));
  stream.end();
  return seen;
}

/** What JSON.parse makes of the same document, in the reader's terms. */
function expected(text: string | Buffer, streamed = 'releases', keep = ['info', 'last_serial']): Seen {
  // As the client read an answer before: the whole body decoded, then parsed.
  const doc = JSON.parse(typeof text === 'string' ? text : text.toString('utf8')) as Record<string, unknown>;
  const seen: Seen = { members: {}, elements: [] };
  for (const name of keep) if (name in doc) seen.members[name] = doc[name];
  if (streamed in doc) {
    const value = doc[streamed];
    if (Array.isArray(value)) {
      seen.members[streamed] = [];
      for (const [i, v] of value.entries()) seen.elements.push([i, v]);
    } else if (value !== null && typeof value === 'object') {
      seen.members[streamed] = {};
      for (const [k, v] of Object.entries(value)) seen.elements.push([k, v]);
    } else seen.members[streamed] = value;
  }
  return seen;
}

const SIZES = [1, 2, 3, 7, 64, 1 << 20];

describe('JsonObjectStream', () => {
  const valid: Array<[string, string]> = [
    ['empty object', '{}'],
    [
      'the JSON API shape',
      JSON.stringify({
        info: { name: 'demo', version: '2.0', description: 'x'.repeat(300) },
        last_serial: 42,
        releases: {
          '1.0': [{ filename: 'demo-1.0.tar.gz', digests: { sha256: 'ab' }, size: 3, yanked: false }],
          '2.0': [],
        },
        urls: [{ filename: 'demo-2.0.tar.gz' }],
        vulnerabilities: [],
      }),
    ],
    [
      'strings that look like structure',
      JSON.stringify({
        info: { name: 'a"}],{[:\\', x: '\\"' },
        releases: { '}{': ['"]', '\\', '\u0000\u001f'], '": [': { '{': '}' } },
      }),
    ],
    [
      'unicode, escapes and surrogates',
      JSON.stringify({
        info: { name: 'ĳ ü 😀 \ud800' },
        releases: { 'é😀': [{ a: '\u2028\u2029' }] },
      }),
    ],
    [
      'blank space everywhere',
      ' \n\t{ "info" :\r\n{ "name" : "x" } , "releases" : { "1" : [ 1 , 2.5e3 , -0 , true , false , null ] , "2":[]} }\n ',
    ],
    ['scalars as elements', '{"releases":{"a":1,"b":"s","c":null,"d":true,"e":-1.5E-7}}'],
    ['the streamed member not a container', '{"releases":null,"last_serial":1}'],
    ['the streamed member a string', '{"releases":"{}","info":{}}'],
    ['the streamed member an array', '{"releases":[{"a":1},[2],3,"x",null]}'],
    ['an empty streamed container', '{"releases":{},"last_serial":0}'],
    ['members not kept are skipped', '{"urls":[[[{"a":[]}]]],"x":{"releases":{"1":2}},"last_serial":3}'],
    ['a kept member twice: the last stands', '{"last_serial":1,"last_serial":2}'],
  ];
  for (const [what, text] of valid) {
    it(`reads ${what} as JSON.parse does, whatever the chunks`, () => {
      const want = expected(text);
      for (const size of SIZES) expect(read(text, size), `chunks of ${size}`).toEqual(want);
    });
  }

  it('streams the files of a Simple page, an array, by index', () => {
    const text = JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: 'demo',
      files: [{ f: 1 }, { f: 2 }],
      versions: ['1'],
    });
    for (const size of SIZES) {
      expect(read(text, size, 'files', ['meta', 'name', 'versions'])).toEqual(
        expected(text, 'files', ['meta', 'name', 'versions']),
      );
    }
  });

  const invalid: Array<[string, string]> = [
    ['nothing', ''],
    ['blank only', '  \n'],
    ['a byte-order mark', '\ufeff{}'],
    ['truncated in the streamed container', '{"releases":{"1":[1,2'],
    ['truncated after a member', '{"info":{}'],
    ['truncated in a key', '{"rel'],
    ['truncated in a scalar', '{"last_serial":12'],
    ['a missing comma between members', '{"info":{} "last_serial":1}'],
    ['a missing comma between elements', '{"releases":{"1":[] "2":[]}}'],
    ['a missing comma in an array', '{"releases":[1 2]}'],
    ['a trailing comma in the object', '{"info":{},}'],
    ['a trailing comma in the streamed container', '{"releases":{"1":[],}}'],
    ['a trailing comma in the streamed array', '{"releases":[1,]}'],
    ['a missing colon', '{"info" {}}'],
    ['a key not a string', '{info:{}}'],
    ['a number as a key', '{1:2}'],
    ['a missing value', '{"info":}'],
    ['a bad value in a skipped member', '{"urls":[1,,2],"last_serial":1}'],
    ['a bad scalar in a skipped member', '{"urls":tru,"last_serial":1}'],
    ['a bad value in an element', '{"releases":{"1":[01]}}'],
    ['an unterminated string in an element', '{"releases":{"1":["abc]}}'],
    ['a bad escape', '{"info":{"name":"\\x"}}'],
    ['a raw control character in a string', '{"info":{"name":"a\nb"}}'],
    ['a closer of the wrong kind', '{"releases":{"1":[]]}'],
    ['an array closed by a brace', '{"releases":[1}}'],
    ['more after the end', '{}{}'],
    ['a stray byte after the end', '{} x'],
    ['NaN', '{"last_serial":NaN}'],
  ];
  for (const [what, text] of invalid) {
    it(`refuses ${what}, as JSON.parse does`, () => {
      expect(() => JSON.parse(text)).toThrow();
      for (const size of SIZES)
        expect(() => read(text, size), `chunks of ${size}`).toThrow(JsonStreamSyntaxError);
    });
  }

  it('hands on the elements in the order of the document (JSON.parse puts integer-like keys first)', () => {
    const text = '{"releases":{"10":[],"2":[],"1.0":[],"1":[]}}';
    for (const size of SIZES)
      expect(read(text, size).elements.map(([k]) => k)).toEqual(['10', '2', '1.0', '1']);
  });

  it('refuses a document whose top level is not an object', () => {
    for (const text of ['[1,2]', '"x"', '3', 'null']) {
      expect(() => read(text, 2)).toThrow(/not an object/);
    }
  });

  it('refuses the streamed member twice (JSON.parse would keep the second)', () => {
    expect(() => read('{"releases":{"1":[]},"releases":{}}', 5)).toThrow(/appears twice/);
    expect(() => read('{"releases":null,"releases":{}}', 5)).toThrow(/appears twice/);
  });

  it('agrees with JSON.parse on generated documents and on every truncation and one-byte change of them', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const value = (depth: number): unknown => {
      switch (rand(depth > 3 ? 4 : 6)) {
        case 0:
          return rand(3) === 0 ? null : rand(2) === 0;
        case 1:
          return rand(2000) - 1000 + (rand(2) === 0 ? 0.5 : 0);
        case 2:
          return ['', 'a"b', '\\', '{[', 'é😀', ']}', ',:'][rand(7)];
        case 3:
          return `s${rand(100)}`;
        case 4:
          return Array.from({ length: rand(4) }, () => value(depth + 1));
        default:
          return Object.fromEntries(
            Array.from({ length: rand(4) }, (_, i) => [`k${i}${rand(3) ? '' : '"'}`, value(depth + 1)]),
          );
      }
    };
    const bytes = ' {}[]",:\\0a-.eE\n';
    let accepted = 0;
    let refused = 0;
    for (let doc = 0; doc < 40; doc++) {
      const text = Buffer.from(
        JSON.stringify({
          info: value(1),
          urls: value(1),
          releases:
            rand(5) === 0
              ? value(1)
              : Object.fromEntries(Array.from({ length: rand(5) }, (_, i) => [`${i}.0`, value(2)])),
          last_serial: rand(100),
        }),
      );
      // Every few bytes cut off, and one byte changed at 30 places (in the middle of a
      // multibyte character too: both readers then decode U+FFFD).
      const variants = [text];
      for (let cut = 0; cut < text.length; cut += 1 + rand(5)) variants.push(text.subarray(0, cut));
      for (let k = 0; k < 30; k++) {
        const changed = Buffer.from(text);
        changed[rand(text.length)] = bytes.charCodeAt(rand(bytes.length));
        variants.push(changed);
      }
      for (const v of variants) {
        let want: Seen | undefined;
        try {
          want = expected(v);
        } catch {
          want = undefined;
        }
        const size = 1 + rand(9);
        if (want === undefined) {
          expect(() => read(v, size), v.toString()).toThrow(JsonStreamSyntaxError);
          refused++;
        } else {
          // A changed byte may have made a second "releases": the stream refuses, JSON.parse not.
          const twice = (v.toString('latin1').match(/"releases"/g) ?? []).length > 1;
          if (twice) continue;
          expect(read(v, size), v.toString()).toEqual(want);
          accepted++;
        }
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(1000);
  });
});
