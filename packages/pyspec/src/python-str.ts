/** Python string semantics that the specs' reference implementations rely on, where JavaScript differs. */

/**
 * Python's whitespace (`str.isspace()`, and `\s` in a `str` regex), as a character-class body.
 * JavaScript's `\s` differs: it includes U+FEFF and lacks U+001C-U+001F and U+0085.
 */
export const PY_WS =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const IS_PY_WS = new RegExp(`[${PY_WS}]`);

/**
 * Python's `str.strip()` with no argument. A loop, not `/\s+$/`: that regex retries the whole
 * run at every start position and is quadratic on a long run of blanks followed by text.
 */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && IS_PY_WS.test(s[start]!)) start++;
  while (end > start && IS_PY_WS.test(s[end - 1]!)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Python string order (code-point order). JavaScript compares UTF-16 code units, which puts an astral
 * character (a surrogate, 0xD800-0xDFFF) before U+E000-U+FFFF; shifting code units fixes that.
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

/** Whether every character of `s` is always safe or in `safe` (ASCII only: one byte each). */
function allSafe(s: string, safe: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    if (!ALWAYS_SAFE.has(c) && safe.indexOf(s[i]!) < 0) return false;
  }
  return true;
}

/**
 * `urllib.parse.quote(s, safe)`: UTF-8 bytes, every byte outside the always-safe set and `safe`
 * as `%XX` with upper-case hex. The crawler calls it with `safe='/ '` (docs/formats.md §A2).
 * Python raises on a lone surrogate (strict UTF-8); so do we rather than write U+FFFD.
 */
export function pythonQuote(s: string, safe = '/'): string {
  // Most names need no quoting (a snapshot quotes every sdist's name): answered by one scan.
  if (allSafe(s, safe)) return s;
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

/**
 * Decodes the source text of a Python string literal the way `ast.literal_eval` does (packaging's
 * marker parser evaluates quoted strings with it). `literal` includes its quotes. Returns null where
 * Python raises (a line break inside the literal, a NUL, a malformed `\x`/`\u`/`\U` escape); `\N{…}`
 * also returns null, because resolving Unicode character names needs a database we do not ship.
 */
export function decodePythonStringLiteral(literal: string): string | null {
  const body = literal.slice(1, -1);
  if (body.includes('\0')) return null;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\n' || c === '\r') return null;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return null; // the backslash escaped the closing quote
    switch (e) {
      case '\n':
        break;
      case '\r':
        if (body[i + 1] === '\n') i++;
        break;
      case '\\':
      case "'":
      case '"':
        out += e;
        break;
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
      case 'u':
      case 'U': {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = body.slice(i + 1, i + 1 + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return null;
        const cp = Number.parseInt(hex, 16);
        if (cp > 0x10ffff) return null;
        out += String.fromCodePoint(cp);
        i += len;
        break;
      }
      case 'N':
        return null;
      default:
        if (e >= '0' && e <= '7') {
          let j = i;
          while (j < i + 3 && j < body.length && body[j]! >= '0' && body[j]! <= '7') j++;
          out += String.fromCodePoint(Number.parseInt(body.slice(i, j), 8));
          i = j - 1;
        } else {
          out += `\\${e}`; // unknown escapes keep their backslash
        }
    }
  }
  return out;
}
