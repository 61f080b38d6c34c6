import {
  compareCodePoints,
  dumpPython,
  dumpPythonChunks,
  type PyValue,
  pyObject,
  pyStrip,
  pythonQuote,
} from '@pypi-graph/pyspec';
import { describe, expect, it } from 'vitest';
import { PY_UNTAG, prng, runPython, tag } from './helpers';

// Code points the random strings draw from, by class; each class is a known trap.
const POOLS: Array<[number, number]> = [
  [0x20, 0x7e], // printable ASCII
  [0x22, 0x22], // "
  [0x5c, 0x5c], // backslash
  [0x00, 0x1f], // controls (\b \f \n \r \t and \u00XX)
  [0x7f, 0x7f], // DEL
  [0x80, 0xff], // Latin-1
  [0x100, 0xd7ff], // BMP below the surrogates
  [0xe000, 0xffff], // BMP above the surrogates (sorts after astral in UTF-16 order)
  [0x10000, 0x10ffff], // astral (a surrogate pair in JS and in Python's \u escapes)
];
const INT_KEYS = ['27', '310', '1', '2048', '0', '10', '-1', '01', '4294967296', ''];

function randomString(rand: () => number, maxLen = 8): string {
  let s = '';
  const len = Math.floor(rand() * (maxLen + 1));
  for (let i = 0; i < len; i++) {
    const [lo, hi] = POOLS[Math.floor(rand() * POOLS.length)]!;
    const cp = lo + Math.floor(rand() * (hi - lo + 1));
    s += String.fromCodePoint(cp);
  }
  return s;
}

function randomValue(rand: () => number, depth: number): PyValue {
  const r = rand();
  if (depth > 0 && r < 0.3) {
    const obj = pyObject();
    const n = Math.floor(rand() * 5);
    for (let i = 0; i < n; i++) {
      const key = rand() < 0.4 ? INT_KEYS[Math.floor(rand() * INT_KEYS.length)]! : randomString(rand, 5);
      obj.set(key, randomValue(rand, depth - 1));
    }
    return obj;
  }
  if (depth > 0 && r < 0.5) {
    return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth - 1));
  }
  if (r < 0.55) return Math.floor((rand() - 0.5) * 2 ** 53);
  if (r < 0.58) return rand() < 0.5;
  if (r < 0.6) return null;
  return randomString(rand);
}

describe('dumpPython', () => {
  it('writes the json.dumps(indent=2) shape', () => {
    const value = pyObject([
      ['b', pyObject()],
      ['a', []],
      ['310', ['x', pyObject([['27', 'y']])]],
      ['27', 'é😀"\\\n\u007f\u0001'],
      ['n', 12],
    ]);
    expect(dumpPython(value)).toBe(
      [
        '{',
        '  "b": {},',
        '  "a": [],',
        '  "310": [',
        '    "x",',
        '    {',
        '      "27": "y"',
        '    }',
        '  ],',
        '  "27": "\\u00e9\\ud83d\\ude00\\"\\\\\\n\\u007f\\u0001",',
        '  "n": 12',
        '}',
      ].join('\n'),
    );
    expect(dumpPython(pyObject())).toBe('{}');
    expect(dumpPython('\b\f\r\t')).toBe('"\\b\\f\\r\\t"');
  });

  it('keeps integer-like keys where they were inserted, replacing a repeated key in place', () => {
    const value = pyObject([
      ['b', '1'],
      ['2048', '2'],
      ['1', '3'],
    ]);
    value.set('b', '4');
    expect(dumpPython(value)).toBe('{\n  "b": "4",\n  "2048": "2",\n  "1": "3"\n}');
  });

  it('refuses numbers Python would write differently', () => {
    expect(() => dumpPython(1.5)).toThrow(TypeError);
    expect(() => dumpPython(2 ** 60)).toThrow(TypeError);
  });

  it('matches Python json.dump(obj, f, indent=2) byte for byte on 3000 random values', () => {
    const rand = prng(20240611);
    const values = Array.from({ length: 3000 }, () => randomValue(rand, 4));
    const script = `${PY_UNTAG}
import io, json, sys
out = []
for t in json.load(sys.stdin):
    f = io.StringIO()
    json.dump(untag(t), f, indent=2)
    out.append(f.getvalue())
json.dump(out, sys.stdout)
`;
    const expected = JSON.parse(runPython(script, JSON.stringify(values.map(tag)))) as string[];
    expect(expected).toHaveLength(values.length);
    let mismatches = 0;
    values.forEach((value, i) => {
      const mine = dumpPython(value);
      if (!Buffer.from(mine, 'utf8').equals(Buffer.from(expected[i]!, 'utf8'))) {
        mismatches += 1;
        if (mismatches === 1) expect(mine).toBe(expected[i]);
      }
      // The streaming writer gives the same text, whatever the piece size.
      expect([...dumpPythonChunks(value, 7)].join('')).toBe(mine);
    });
    expect(mismatches).toBe(0);
  });
});

describe('Python string semantics', () => {
  it('agrees with str.strip, urllib.parse.quote(safe="/ ") and sorted() on random strings', () => {
    const rand = prng(7);
    const ws = [
      '\t',
      '\n',
      '\x0b',
      '\x1c',
      '\x1f',
      ' ',
      '\x85',
      '\xa0',
      '\u2000',
      '\u3000',
      '\ufeff',
      '\u200b',
    ];
    const strings = Array.from({ length: 2000 }, () => {
      const pad = () =>
        rand() < 0.5 ? ws[Math.floor(rand() * ws.length)]!.repeat(1 + Math.floor(rand() * 2)) : '';
      return pad() + randomString(rand, 6) + pad();
    });
    strings.push('café-1.0 final+x~y.tar.gz', 'a/b c%d', '😀', '\uffff', '\u{10000}');
    const script = `
import json, sys
from urllib.parse import quote
xs = json.load(sys.stdin)
json.dump({"strip": [x.strip() for x in xs], "quote": [quote(x, safe='/ ') for x in xs], "sorted": sorted(xs)}, sys.stdout)
`;
    const py = JSON.parse(runPython(script, JSON.stringify(strings))) as Record<string, string[]>;
    expect(strings.map(pyStrip)).toEqual(py.strip);
    expect(strings.map((s) => pythonQuote(s, '/ '))).toEqual(py.quote);
    expect([...strings].sort(compareCodePoints)).toEqual(py.sorted);
  });

  it('orders an astral character after U+FFFF, unlike UTF-16 order', () => {
    expect(compareCodePoints('\u{1F600}', '\uFF41')).toBeGreaterThan(0);
    expect(['\u{1F600}', '\uFF41'].sort()).toEqual(['\u{1F600}', '\uFF41']); // what plain sort would do
    expect(() => pythonQuote('a\ud800b')).toThrow(TypeError);
  });
});
