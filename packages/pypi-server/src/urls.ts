import { type FileStat, type IndexFile, storagePath } from './index-model';

// URLs as warehouse builds them with `request.route_url("packaging.file", path=...)`: the
// file host (files.pythonhosted.org on PyPI, this same server here) + `/packages/` + the
// storage path, each path segment percent-encoded except Pyramid's safe characters, so a
// non-ASCII file name such as `café-1.0.tar.gz` becomes `caf%C3%A9-1.0.tar.gz`.

/** Where files live on this server, like https://files.pythonhosted.org/packages/. */
export const FILES_PREFIX = '/packages/';

// pyramid.traversal.PATH_SEGMENT_SAFE
const SEGMENT_SAFE = new Set("~!$&'()*+,;=:@".split(''));

export function quotePathSegment(segment: string): string {
  let out = '';
  for (const ch of segment) {
    if (/[A-Za-z0-9_.-]/.test(ch) || SEGMENT_SAFE.has(ch)) out += ch;
    else
      out += encodeURIComponent(ch).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      );
  }
  return out;
}

/** Absolute URL of a file on the files host. */
export function fileUrl(baseUrl: string, file: IndexFile & { stat: FileStat }): string {
  return baseUrl + FILES_PREFIX + storagePath(file).split('/').map(quotePathSegment).join('/');
}
