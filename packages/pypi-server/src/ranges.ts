// Conditional and range requests for files, the way a CDN in front of files.pythonhosted.org
// answers them. https://www.rfc-editor.org/rfc/rfc9110#section-13 (conditionals),
// https://www.rfc-editor.org/rfc/rfc9110#section-14 (ranges).

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number } // end exclusive
  | { kind: 'unsatisfiable' };

/**
 * Interprets a Range header for a representation of `size` bytes. A single range is honoured;
 * several ranges, other units and malformed headers get the full body (RFC 9110 §14.2 lets a
 * server ignore Range).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: 'full' };
  const specs = m[1]!.split(',').map((s) => s.trim());
  if (specs.length !== 1) return { kind: 'full' };
  const spec = /^(\d*)\s*-\s*(\d*)$/.exec(specs[0]!);
  if (!spec || (spec[1] === '' && spec[2] === '')) return { kind: 'full' };
  if (spec[1] === '') {
    // suffix range: the last n bytes
    const n = Number(spec[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size };
  }
  const start = Number(spec[1]);
  if (spec[2] !== '' && Number(spec[2]) < start) return { kind: 'full' }; // invalid range-spec: ignore the header
  if (start >= size) return { kind: 'unsatisfiable' };
  const last = spec[2] === '' ? size - 1 : Number(spec[2]);
  return { kind: 'partial', start, end: Math.min(last, size - 1) + 1 };
}

/** If-None-Match: weak comparison, `*` matches any current representation (RFC 9110 §13.1.2). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

/** If-Range with an entity tag: the range applies only if it is a strong match (RFC 9110 §13.1.5). */
export function ifRangeMatches(header: string | undefined, etag: string, lastModified: string): boolean {
  if (!header) return true;
  const h = header.trim();
  if (h.startsWith('"') || h.startsWith('W/')) return h === etag;
  return h === lastModified;
}
