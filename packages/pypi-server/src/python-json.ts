// Warehouse renders every JSON response with Pyramid's JSON renderer configured as
// `json.dumps(value, sort_keys=True, separators=(",", ":"))` (warehouse/config.py), and
// `ensure_ascii` left at its default. Reproducing that byte for byte keeps the bodies
// identical to PyPI's: keys in code-point order (so a release "1" does not jump ahead of
// "0.9" the way JavaScript orders integer-like keys), no spaces, non-ASCII as \uXXXX.

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
  write(value, out);
  return out.join('');
}

function write(value: JsonValue | undefined, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
  } else if (typeof value === 'boolean') {
    out.push(value ? 'true' : 'false');
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JSON cannot hold a non-finite number');
    out.push(Number.isInteger(value) ? String(value) : pythonFloat(value));
  } else if (typeof value === 'string') {
    out.push(quote(value));
  } else if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      write(item, out);
    });
    out.push(']');
  } else {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort(compareCodePoints);
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(quote(k), ':');
      write(value[k], out);
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

/** Python's str ordering: by code point (JavaScript's default sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

// json.encoder.py_encode_basestring_ascii
function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}
