import { metadataError } from '@pypi-graph/core';
import { pyStrip } from './python-str';

// https://packaging.python.org/en/latest/specifications/core-metadata/ (Metadata-Version 1.0 … 2.4)
// PKG-INFO and METADATA are RFC 822 style headers. What counts as a header, a continuation line and
// the body follows Python's `email.parser` with the compat32 policy, which `packaging.metadata`,
// `importlib.metadata` and so pip use; see parseCoreMetadata for the few deliberate differences.

/** Fields that may appear more than once; every other field keeps its first value. */
export const MULTIPLE_USE_FIELDS = new Set(
  [
    'Platform',
    'Supported-Platform',
    'Classifier',
    'Requires-Dist',
    'Requires-External',
    'Project-URL',
    'Provides-Extra',
    'Provides-Dist',
    'Obsoletes-Dist',
    'Requires',
    'Provides',
    'Obsoletes',
    'Dynamic',
    'License-File',
    'Import-Name',
    'Import-Namespace',
  ].map((f) => f.toLowerCase()),
);

export interface CoreMetadata {
  /**
   * Every header in file order, names as written. A value is what `email.parser` gives: the first
   * line after the colon without its leading blanks, then each continuation line verbatim after a
   * "\n" (folding is not undone; see readDependencyFields and readDescription for that).
   */
  headers: Array<[string, string]>;
  /** The text after the blank line that ends the headers ('' if none); 2.1+ puts the description there. */
  body: string;
  /** Lines of the input that were not UTF-8 and were read as Latin-1 (0 for text input). */
  notUtf8Lines: number;
  /** The first value of a field (names are case-insensitive). */
  get(field: string): string | undefined;
  /** All values of a field, in file order. */
  getAll(field: string): string[];
}

export const DEFAULT_METADATA_MAX_BYTES = 4 * 1024 * 1024;

// email.feedparser.headerRE: a field name of printable ASCII but ':', then ':'; a unix "From "
// envelope line; or a continuation line. Field names with spaces or non-ASCII are no headers.
const HEADER_LINE = /^(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/**
 * UTF-8 where it is valid; otherwise line by line, a line that is not UTF-8 read as Latin-1.
 * `notUtf8Lines`: how many lines were read as Latin-1.
 */
function decode(bytes: Uint8Array): { text: string; notUtf8Lines: number } {
  try {
    return { text: utf8.decode(bytes), notUtf8Lines: 0 };
  } catch {
    let notUtf8Lines = 0;
    // packaging.metadata does the same per header: utf-8, else latin-1 ("mojibake" rather than failure)
    const parts: string[] = [];
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      const b = bytes[i];
      if (i < bytes.length && b !== 0x0a && b !== 0x0d) continue;
      const line = bytes.subarray(start, i);
      try {
        parts.push(utf8.decode(line));
      } catch {
        parts.push(latin1(line));
        notUtf8Lines++;
      }
      if (i < bytes.length) parts.push(String.fromCharCode(b!));
      start = i + 1;
    }
    return { text: parts.join(''), notUtf8Lines };
  }
}

/**
 * Parses PKG-INFO / METADATA. Headers end at the first empty line, or at the first line that is
 * neither a header nor a continuation (that line starts the body, as in `email.parser`).
 * Differences from `email.parser`, on purpose: line endings (CRLF, CR) become "\n" inside values
 * and the body; a leading byte-order mark is skipped (Python would read the whole file as body);
 * bytes that are not UTF-8 are read as Latin-1 line by line. Throws `metadata-too-large` over
 * `maxBytes` and `metadata-invalid` when there is no header at all.
 */
export function parseCoreMetadata(
  input: Uint8Array | string,
  maxBytes = DEFAULT_METADATA_MAX_BYTES,
): CoreMetadata {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > maxBytes) {
    throw metadataError('metadata-too-large', `metadata is ${size} bytes, over the cap of ${maxBytes}`);
  }
  const decoded = typeof input === 'string' ? { text: input, notUtf8Lines: 0 } : decode(input);
  let text = decoded.text;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // split('\n') leaves a last element without a line ending: '' when the text ends with one.
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const last = lines.length - 1;

  let i = 0;
  const headerLines: string[] = [];
  for (; i < last || (i === last && lines[i] !== ''); i++) {
    const line = lines[i]!;
    if (line === '' && i < last) {
      i++; // the separator is dropped
      break;
    }
    if (!HEADER_LINE.test(line)) break; // this line starts the body
    headerLines.push(line);
  }
  let bodyStart = i;

  const headers: Array<[string, string]> = [];
  let current: { name: string; lines: string[] } | null = null;
  const flush = () => {
    if (current) headers.push([current.name, current.lines.join('\n')]);
    current = null;
  };
  headerLines.forEach((line, n) => {
    if (line[0] === ' ' || line[0] === '\t') {
      current?.lines.push(line); // a continuation before any header is dropped
      return;
    }
    flush();
    if (line.startsWith('From ')) {
      // unix envelope line: skipped, except as the last header line, where it starts the body
      if (n === headerLines.length - 1 && n > 0) bodyStart = -1;
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) return; // no field name: dropped
    current = { name: line.slice(0, colon), lines: [line.slice(colon + 1).replace(/^[ \t]+/, '')] };
  });
  flush();

  let body = bodyStart >= 0 ? lines.slice(bodyStart).join('\n') : '';
  if (bodyStart < 0) {
    // the envelope line goes back in front of what followed the headers
    const fromLine = headerLines.length - 1; // header lines are lines[0 … n]
    body = fromLine < last ? `${lines[fromLine]}\n${lines.slice(i).join('\n')}` : lines[fromLine]!;
  }
  if (headers.length === 0) {
    throw metadataError(
      'metadata-invalid',
      `no metadata headers (starts ${JSON.stringify(text.slice(0, 80))})`,
    );
  }
  return {
    headers,
    body,
    notUtf8Lines: decoded.notUtf8Lines,
    get(field: string) {
      const f = field.toLowerCase();
      return headers.find(([k]) => k.toLowerCase() === f)?.[1];
    },
    getAll(field: string) {
      const f = field.toLowerCase();
      return headers.filter(([k]) => k.toLowerCase() === f).map(([, v]) => v);
    },
  };
}

/** The fields that describe dependencies, verbatim but unfolded and trimmed. */
export interface DependencyFields {
  metadataVersion: string | null;
  name: string;
  version: string;
  requiresDist: string[];
  requiresPython: string | null;
  providesExtra: string[];
  requiresExternal: string[];
  /** PEP 643: fields an sdist's PKG-INFO leaves to the build (`Requires-Dist` listed → not trustworthy). */
  dynamic: string[];
}

// RFC 5322 §2.2.3 unfolding: a line break before a continuation line is removed. A folded
// Requires-Dist is then one requirement again (pip would choke on the line break).
const clean = (value: string) => pyStrip(value.replaceAll('\n', ''));

function all(meta: CoreMetadata, field: string): string[] {
  return meta
    .getAll(field)
    .map(clean)
    .filter((v) => v !== '');
}

function one(meta: CoreMetadata, field: string): string | null {
  const v = meta.get(field);
  return v === undefined || clean(v) === '' ? null : clean(v);
}

/** Reads the dependency fields; throws `metadata-invalid` when Name or Version is missing or empty. */
export function readDependencyFields(meta: CoreMetadata): DependencyFields {
  const name = one(meta, 'Name');
  const version = one(meta, 'Version');
  if (name === null || version === null) {
    throw metadataError('metadata-invalid', `metadata without ${name === null ? 'Name' : 'Version'}`);
  }
  return {
    metadataVersion: one(meta, 'Metadata-Version'),
    name,
    version,
    requiresDist: all(meta, 'Requires-Dist'),
    requiresPython: one(meta, 'Requires-Python'),
    providesExtra: all(meta, 'Provides-Extra'),
    requiresExternal: all(meta, 'Requires-External'),
    dynamic: all(meta, 'Dynamic'),
  };
}

/**
 * The long description: the body when there is one (Metadata-Version 2.1+), else the Description
 * header with its continuation prefix removed — 8 spaces (distutils' `rfc822_escape`) or the spec's
 * 7 spaces and `|`. Null when there is neither.
 */
export function readDescription(meta: CoreMetadata): string | null {
  if (pyStrip(meta.body) !== '') return meta.body;
  const header = meta.get('Description');
  if (header === undefined) return null;
  const [first = '', ...rest] = header.split('\n');
  return [first, ...rest.map((l) => (/^ {7}\|/.test(l) ? l.slice(8) : l.replace(/^[ \t]{1,8}/, '')))].join(
    '\n',
  );
}
