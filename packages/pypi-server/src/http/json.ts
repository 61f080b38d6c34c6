// JSON API. https://docs.pypi.org/api/json/
import { findRelease, latestRelease } from '../index-model';
import { renderJsonApi } from '../json-api';
import type { RequestContext } from './context';
import { CORS, jsonNotFound, type Reply, redirect } from './reply';

/** `/pypi/<project>/json` and `/pypi/<project>/<version>/json`; `match` is [, project, version?]. */
export function jsonApi({ server, path, url, baseUrl }: RequestContext, match: RegExpExecArray): Reply {
  const requested = match[1]!;
  const version = match[2];
  const normalized = requested.replace(/[-_.]+/g, '-').toLowerCase();
  const project = server.source.project(normalized);
  if (!project) return jsonNotFound();
  const release = version === undefined ? latestRelease(project) : findRelease(project, version);
  if (!release) return jsonNotFound();
  // Warehouse redirects any other spelling to the project's own (display) name, keeping the
  // rest of the URL: `/pypi/django/json` → `/pypi/Django/json` (its json_project view).
  if (requested !== project.name) {
    const rest = path.slice(`/pypi/${requested}`.length).split('/').map(encodeURIComponent).join('/');
    return redirect(`${baseUrl}/pypi/${encodeURIComponent(project.name)}${rest}${url.search}`);
  }
  return {
    status: 200,
    headers: {
      'Content-Type': 'application/json',
      'X-PyPI-Last-Serial': String(project.lastSerial),
      'Cache-Control': 'max-age=900, public',
      ...CORS,
    },
    body: Buffer.alloc(0),
    stream: renderJsonApi(project, release, baseUrl, version === undefined),
    route: version === undefined ? 'json-project' : 'json-release',
  };
}
