// Files, laid out like files.pythonhosted.org/packages/<b2>/<b2>/<b2>/<filename>, with their
// PEP 658 metadata files, conditional requests and byte ranges.
import { createHash } from 'node:crypto';
import { type IndexFile, materialize, storagePath } from '../index-model';
import { ifRangeMatches, noneMatch, parseRange } from '../ranges';
import type { RouteKind } from '../stats';
import { httpDate } from '../times';
import type { RequestContext } from './context';
import { notFound, type Reply } from './reply';

/** `/packages/<storage path>` and `<…>.metadata`; `match` is [, the path after /packages/]. */
export async function serveFile({ server, req }: RequestContext, match: RegExpExecArray): Promise<Reply> {
  const segments = match[1]!.split('/');
  if (segments.length !== 4) return notFound();
  const name = segments[3]!;
  let file: IndexFile | undefined = server.source.file(name);
  let isMetadata = false;
  if (!file && name.endsWith('.metadata')) {
    file = server.source.file(name.slice(0, -'.metadata'.length));
    isMetadata = true;
  }
  if (!file) return notFound();
  const m = await materialize(file);
  const expected = storagePath(m);
  if (`${segments.slice(0, 3).join('/')}/${file.filename}` !== expected) return notFound();
  let body: Buffer;
  let etag: string;
  if (isMetadata) {
    // PEP 658: the core metadata file of a wheel at `<file url>.metadata`.
    const bytes = file.hasMetadataFile ? await file.content.metadataBytes() : undefined;
    if (!bytes) return notFound();
    body = bytes;
    etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
  } else {
    body = Buffer.alloc(0); // read below, only the bytes needed
    etag = `"${m.stat.md5}"`;
  }
  const size = isMetadata ? body.length : m.stat.size;
  const lastModified = httpDate(file.uploadTimeUs);
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': lastModified,
    'Cache-Control': 'max-age=365000000, immutable, public',
    'Access-Control-Allow-Origin': '*',
  };
  const route: RouteKind = isMetadata ? 'metadata' : 'file';
  if (noneMatch(req.headers['if-none-match'], etag)) {
    return { status: 304, headers, body: Buffer.alloc(0), route };
  }
  const range = ifRangeMatches(req.headers['if-range'] as string | undefined, etag, lastModified)
    ? parseRange(req.headers.range, size)
    : ({ kind: 'full' } as const);
  if (range.kind === 'unsatisfiable') {
    return {
      status: 416,
      headers: {
        ...headers,
        'Content-Range': `bytes */${size}`,
        'Content-Type': 'text/plain; charset=utf-8',
      },
      body: Buffer.from('416 Range Not Satisfiable\n'),
      route,
    };
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size];
  const head = req.method?.toUpperCase() === 'HEAD';
  if (!isMetadata && !head) body = await file.content.read(start, end);
  else if (isMetadata) body = body.subarray(start, end);
  if (range.kind === 'partial') {
    headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
    return { status: 206, headers: { ...headers, 'Content-Length': String(end - start) }, body, route };
  }
  return { status: 200, headers: { ...headers, 'Content-Length': String(size) }, body, route };
}
