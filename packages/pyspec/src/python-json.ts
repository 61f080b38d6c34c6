import { compareCodePoints } from './python-str';

/**
 * A writer that produces exactly the bytes of Python's `json.dump(obj, f, indent=2)` with the
 * defaults (`ensure_ascii=True`, separators `(',', ': ')` once an indent is given), the way
 * mach-nix's crawlers wrote every bucket file (docs/formats.md §0, "Serialization"); and `pythonJsonDumps`, Warehouse's compact sorted JSON.
 *
 * Objects are `Map`s, never plain JS objects: a plain object moves integer-like keys (`"27"`,
 * `"310"`, a version `"1"`, a project `"2048"`) to the front, and key order is part of the
 * format (docs/formats.md §0, §D). A `Map` also has Python dict semantics for a repeated key:
 * the value is replaced, the position stays where the key was first inserted.
 */

/** A JSON object in insertion order (Python dict semantics). */
export type PyObject = ReadonlyMap<string, PyValue>;

/**
 * What the writer accepts. Numbers must be safe integers: Python writes floats with `repr`,
 * which JavaScript cannot reproduce in general, and no published format uses them.
 */
export type PyValue = string | number | boolean | null | readonly PyValue[] | PyObject;

/** Builds a PyObject from entries, keeping their order. */
export function pyObject(entries: Iterable<readonly [string, PyValue]> = []): Map<string, PyValue> {
  return new Map(entries);
}

const INDENT = 2;

// Characters Python writes as themselves under ensure_ascii: printable ASCII except `"` and `\`
// (json.encoder.ESCAPE_ASCII = r'([\\"]|[^\ -~])').
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

// json.encoder.ESCAPE_DCT: the short escapes; everything else outside 0x20-0x7e is \uXXXX.
const SHORT_ESCAPES: Record<number, string> = {
  34: '\\"',
  92: '\\\\',
  8: '\\b',
  12: '\\f',
  10: '\\n',
  13: '\\r',
  9: '\\t',
};

/**
 * One JSON string literal as Python's `py_encode_basestring_ascii` writes it. Python splits an
 * astral character into a surrogate pair, which is exactly the UTF-16 code units JavaScript
 * stores, so escaping code unit by code unit gives the same text (lower-case hex).
 */
export function pythonJsonString(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    if (i > start) out += s.slice(start, i);
    out += SHORT_ESCAPES[c] ?? '\\u' + c.toString(16).padStart(4, '0');
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

function isPyObject(value: PyValue): value is PyObject {
  return value instanceof Map;
}

function scalar(value: string | number | boolean | null): string {
  if (typeof value === 'string') return pythonJsonString(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`only safe integers can be written, got ${value}`);
    return String(value);
  }
  if (value === null) return 'null';
  return value ? 'true' : 'false';
}

/** Appends `value` as it would appear at nesting `level` (the opening line is already written). */
function encode(value: PyValue, level: number, out: string[]): void {
  if (isPyObject(value)) {
    if (value.size === 0) {
      out.push('{}');
      return;
    }
    const inner = '\n' + ' '.repeat(INDENT * (level + 1));
    let first = true;
    for (const [key, item] of value) {
      out.push(first ? '{' + inner : ',' + inner, pythonJsonString(key), ': ');
      first = false;
      encode(item, level + 1, out);
    }
    out.push('\n' + ' '.repeat(INDENT * level) + '}');
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    const inner = '\n' + ' '.repeat(INDENT * (level + 1));
    value.forEach((item: PyValue, i) => {
      out.push(i === 0 ? '[' + inner : ',' + inner);
      encode(item, level + 1, out);
    });
    out.push('\n' + ' '.repeat(INDENT * level) + ']');
    return;
  }
  out.push(scalar(value as string | number | boolean | null));
}

/** Python's `json.dumps(value, indent=2)`: ASCII only, no trailing newline. */
export function dumpPython(value: PyValue): string {
  const out: string[] = [];
  encode(value, 0, out);
  return out.join('');
}

/**
 * The same text as {@link dumpPython}, in pieces of roughly `chunkChars` characters, so a bucket
 * can be hashed and written without also holding its whole text. Pieces break between top-level
 * items (one project in a bucket), which are small.
 */
export function* dumpPythonChunks(value: PyValue, chunkChars = 1 << 16): Generator<string> {
  const items: Iterable<readonly [string | undefined, PyValue]> | undefined = isPyObject(value)
    ? value
    : Array.isArray(value)
      ? value.map((v: PyValue) => [undefined, v] as const)
      : undefined;
  if (items === undefined || (isPyObject(value) ? value.size : (value as PyValue[]).length) === 0) {
    yield dumpPython(value);
    return;
  }
  let piece = isPyObject(value) ? '{' : '[';
  let first = true;
  for (const [key, item] of items) {
    const out: string[] = [first ? '\n  ' : ',\n  '];
    first = false;
    if (key !== undefined) out.push(pythonJsonString(key), ': ');
    encode(item, 1, out);
    piece += out.join('');
    if (piece.length >= chunkChars) {
      yield piece;
      piece = '';
    }
  }
  yield piece + (isPyObject(value) ? '\n}' : '\n]');
}

/**
 * One top-level item of an object as {@link dumpPythonChunks} writes it, without the separator
 * before it: `"key": value` at nesting level 1. A bucket file is `{`, then each item after
 * `\n  ` (the first) or `,\n  ` (the others), then `\n}`; `{}` when it has none. Pure ASCII
 * (`ensure_ascii`), so its length in characters is its length in bytes.
 */
export function dumpPythonEntry(key: string, value: PyValue): string {
  const out: string[] = [pythonJsonString(key), ': '];
  encode(value, 1, out);
  return out.join('');
}

// Warehouse renders every JSON response with Pyramid's JSON renderer configured as
// `json.dumps(value, sort_keys=True, separators=(",", ":"))` (warehouse/config.py), and
// `ensure_ascii` left at its default. Reproducing that byte for byte keeps the local server's
// bodies identical to PyPI's: keys in code-point order (so a release "1" does not jump ahead of
// "0.9" the way JavaScript orders integer-like keys), no spaces, non-ASCII as \uXXXX.

/** A plain JSON value for {@link pythonJsonDumps}: objects are sorted on output. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

/** Python `json.dumps(value, sort_keys=True, separators=(",", ":"))`. Undefined members are left out. */
export function pythonJsonDumps(value: JsonValue): string {
  const out: string[] = [];
  writeSorted(value, out);
  return out.join('');
}

function writeSorted(value: JsonValue | undefined, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
  } else if (typeof value === 'boolean') {
    out.push(value ? 'true' : 'false');
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JSON cannot hold a non-finite number');
    out.push(Number.isInteger(value) ? String(value) : pythonFloat(value));
  } else if (typeof value === 'string') {
    out.push(pythonJsonString(value));
  } else if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      writeSorted(item, out);
    });
    out.push(']');
  } else {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort(compareCodePoints);
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(pythonJsonString(k), ':');
      writeSorted(value[k], out);
    });
    out.push('}');
  }
}

function pythonFloat(n: number): string {
  // repr(float) uses the shortest round-trip form like JavaScript, but always shows a
  // fraction or an exponent ("1e+16" in JavaScript is "1e+16" in Python too).
  const s = String(n);
  return /[.e]/.test(s) ? s : `${s}.0`;
}
