// Simple API. https://peps.python.org/pep-0503/ https://peps.python.org/pep-0691/
import { selectSimpleFormat } from '../content-negotiation';
import { renderSimpleDetail, renderSimpleIndex } from '../simple-api';
import type { RequestContext } from './context';
import { notAcceptable, notFound, type Reply, redirect, simpleReply } from './reply';

/** `/simple` → `/simple/`. */
export function simpleRoot({ baseUrl, url }: RequestContext): Reply {
  return redirect(`${baseUrl}/simple/${url.search}`);
}

/** `/simple/`: every project. */
export function simpleIndex({ server, req, url }: RequestContext): Reply {
  const format = selectSimpleFormat(req.headers.accept, url.searchParams.get('format'));
  if (!format) return notAcceptable();
  return {
    ...simpleReply(format, '', server.source.lastSerial, 'simple-index'),
    stream: renderSimpleIndex(server.source, format),
  };
}

/** `/simple/<project>/`: its files; `match` is [, name as requested, trailing slash]. */
export function simpleProject({ server, req, url, baseUrl }: RequestContext, match: RegExpExecArray): Reply {
  const requested = match[1]!;
  const normalized = requested.replace(/[-_.]+/g, '-').toLowerCase();
  const project = server.source.project(normalized);
  if (!project) return notFound();
  // PEP 503: project URLs use the normalized name (and end with a slash).
  if (requested !== normalized || match[2] !== '/') {
    return redirect(`${baseUrl}/simple/${encodeURIComponent(normalized)}/${url.search}`);
  }
  const format = selectSimpleFormat(req.headers.accept, url.searchParams.get('format'));
  if (!format) return notAcceptable();
  return {
    ...simpleReply(format, '', project.lastSerial, 'simple-project'),
    stream: renderSimpleDetail(project, format, baseUrl),
  };
}
