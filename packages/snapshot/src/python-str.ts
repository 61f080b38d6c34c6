/**
 * Python string semantics the original crawler relied on (docs/formats.md §0, §A2), where JavaScript's
 * built-ins differ.
 */

// Python's str.isspace() set (checked against CPython 3.11: every c with chr(c).isspace()).
// JavaScript's trim() differs: it strips U+FEFF, and keeps U+001C-U+001F and U+0085.
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACE = new RegExp(`[${PY_WS}]`);

/**
 * Python's `str.strip()` with no argument. A loop, not `/^\s+|\s+$/`: that regex is quadratic
 * on a long run of blanks followed by a non-blank (found by the pyspec fuzz tests).
 */
export function pythonStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_SPACE.test(s[start]!)) start++;
  while (end > start && PY_SPACE.test(s[end - 1]!)) end--;
  return s.slice(start, end);
}

/**
 * Python string order (code-point order), used by `sorted()` on keys (docs/formats.md §0). JavaScript
 * compares UTF-16 code units, which puts an astral character (a surrogate, 0xD800-0xDFFF) before
 * U+E000-U+FFFF. Shifting code units as below makes unit order agree with code-point order.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

// urllib.parse._ALWAYS_SAFE: letters, digits and `_.-~`.
const ALWAYS_SAFE = new Set(
  Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~', (c) => c.charCodeAt(0)),
);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * `urllib.parse.quote(s, safe)`: UTF-8 bytes, every byte outside the always-safe set and `safe`
 * as `%XX` with upper-case hex. The crawler calls it with `safe='/ '` (docs/formats.md §A2).
 * Python raises on a lone surrogate (strict UTF-8); so do we rather than write U+FFFD.
 */
export function pythonQuote(s: string, safe = '/'): string {
  if (LONE_SURROGATE.test(s)) throw new TypeError(`not valid Unicode (lone surrogate): ${JSON.stringify(s)}`);
  const keep = new Set(ALWAYS_SAFE);
  for (const c of safe) keep.add(c.charCodeAt(0));
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    out += keep.has(byte)
      ? String.fromCharCode(byte)
      : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
