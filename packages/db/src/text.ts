// What PostgreSQL cannot store as text, and what we store instead. `text` and `jsonb` refuse
// U+0000 ("invalid byte sequence for encoding UTF8: 0x00"), and an unpaired UTF-16 surrogate
// (what JSON.parse makes of "\udcff", the way Python's surrogateescape writes an undecodable
// byte) has no UTF-8 form: node-postgres and PGlite would each turn it into U+FFFD silently.
// Both come from the untrusted side (METADATA, PKG-INFO, setup.py's output, its log), and
// neither may cost us the row or the rest of the result: each such code unit becomes U+FFFD
// (the character a lossy UTF-8 decoder puts for an undecodable byte), and the caller is told
// how many, so that the extraction records it (`extractions.text_repairs`).

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const REPLACEMENT = '\uFFFD';

/** Counts the repairs made by {@link storable} over several strings. */
export interface RepairCount {
  count: number;
}

/** `text` with every NUL and unpaired surrogate replaced by U+FFFD; `repairs.count` grows by their number. */
export function storable(text: string, repairs: RepairCount): string {
  UNSTORABLE.lastIndex = 0;
  if (!UNSTORABLE.test(text)) return text;
  return text.replace(UNSTORABLE, () => {
    repairs.count++;
    return REPLACEMENT;
  });
}

/** {@link storable} for a nullable column. */
export function storableOrNull(text: string | null | undefined, repairs: RepairCount): string | null {
  return text === null || text === undefined ? null : storable(text, repairs);
}

/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) of `values`, to pass a whole column of values
 * as one text parameter (`$1::text[]`, `$2::bigint[]`…) instead of one parameter per value.
 * Strings and dates are quoted (backslash and double quote escaped), null is NULL.
 */
export function pgArrayLiteral(values: ReadonlyArray<string | number | boolean | Date | null>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'number') parts[i] = String(v);
    else if (typeof v === 'boolean') parts[i] = v ? 't' : 'f';
    else {
      const s = v instanceof Date ? v.toISOString() : v;
      parts[i] = `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    }
  }
  return `{${parts.join(',')}}`;
}
