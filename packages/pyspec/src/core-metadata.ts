import { CrawlError } from '@pypi-graph/core';

// https://packaging.python.org/en/latest/specifications/core-metadata/
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
  ].map((f) => f.toLowerCase()),
);

export interface CoreMetadata {
  /** Every header in file order, names as written. */
  headers: Array<[string, string]>;
  get(field: string): string | undefined;
  getAll(field: string): string[];
}

export const DEFAULT_METADATA_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Parses PKG-INFO / METADATA (RFC 822 style headers, continuation lines start with
 * whitespace; the body after the first blank line is ignored). Bytes that are not
 * UTF-8 are decoded as Latin-1 instead of failing, as `email.parser` does.
 */
export function parseCoreMetadata(
  input: Uint8Array | string,
  maxBytes = DEFAULT_METADATA_MAX_BYTES,
): CoreMetadata {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    if (input.byteLength > maxBytes) {
      throw new CrawlError(
        'metadata-too-large',
        `metadata is ${input.byteLength} bytes, over the cap of ${maxBytes}`,
      );
    }
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      text = new TextDecoder('latin1').decode(input);
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const headers: Array<[string, string]> = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (const line of lines) {
    if (line === '') break; // start of the body
    if (/^[ \t]/.test(line)) {
      const last = headers.at(-1);
      if (last) last[1] += `\n${line.replace(/^[ \t]+/, ' ').trimEnd()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      if (headers.length === 0)
        throw new CrawlError('metadata-invalid', `not a metadata header: ${line.slice(0, 80)}`);
      continue; // email.parser tolerates defects after the first header
    }
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  if (headers.length === 0) throw new CrawlError('metadata-invalid', 'metadata has no headers');
  return {
    headers,
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
