// Every path the server answers, in one place: a request is answered by the first route whose
// path matches; a method the route does not take gets 405 with the methods it does.
import type { RouteKind } from '../stats';
import { FILES_PREFIX } from '../urls';
import {
  type AdminReply,
  advanceDay,
  clearFaults,
  listFaults,
  presetDay,
  readStats,
  recentRequests,
  resetStats,
  setFaults,
  unknownAdmin,
} from './admin';
import type { RequestContext } from './context';
import { serveFile } from './files';
import { jsonApi } from './json';
import { methodNotAllowed, notFound, type Reply, text } from './reply';
import { simpleIndex, simpleProject, simpleRoot } from './simple';
import { xmlRpc } from './xmlrpc';

interface Route {
  methods: readonly string[];
  /** Matched against the decoded path; its groups go to the handler. */
  path: RegExp;
  handler(r: RequestContext, match: RegExpExecArray): Reply | Promise<Reply>;
  /** What a refused method is counted as (default `other`). */
  refused?: RouteKind;
}

const READ = ['GET', 'HEAD'] as const;

const ROUTES: readonly Route[] = [
  // XML-RPC endpoints: /pypi, /pypi/ and /RPC2 (warehouse/routes.py).
  { methods: ['POST'], path: /^\/(?:pypi\/?|RPC2)$/, handler: xmlRpc, refused: 'xmlrpc' },
  { methods: READ, path: /^\/simple$/, handler: simpleRoot },
  { methods: READ, path: /^\/simple\/$/, handler: simpleIndex },
  { methods: READ, path: /^\/simple\/([^/]+)(\/?)$/, handler: simpleProject },
  { methods: READ, path: /^\/pypi\/([^/]+)(?:\/([^/]+))?\/json\/?$/, handler: jsonApi },
  { methods: READ, path: new RegExp(`^${FILES_PREFIX}(.*)$`, 's'), handler: serveFile },
  {
    methods: READ,
    path: /^\/$/,
    handler: () =>
      text(200, 'pypi-graph pypi-server: see /simple/, /pypi/<project>/json and XML-RPC at /pypi\n', 'other'),
  },
  // Any other path: 404 (405 for a method other than GET and HEAD).
  { methods: READ, path: /^/, handler: notFound },
];

/** The answer to a request outside /_admin/. */
export function route(r: RequestContext): Reply | Promise<Reply> {
  for (const { methods, path, handler, refused } of ROUTES) {
    const match = path.exec(r.path);
    if (!match) continue;
    if (!methods.includes(r.method)) return methodNotAllowed(methods, refused ?? 'other');
    return handler(r, match);
  }
  return notFound();
}

interface AdminRoute {
  method: string;
  path: string;
  handler(r: RequestContext): AdminReply | Promise<AdminReply>;
}

const ADMIN_ROUTES: readonly AdminRoute[] = [
  { method: 'GET', path: '/_admin/faults', handler: listFaults },
  { method: 'DELETE', path: '/_admin/faults', handler: clearFaults },
  { method: 'POST', path: '/_admin/faults', handler: setFaults },
  { method: 'GET', path: '/_admin/stats', handler: readStats },
  { method: 'DELETE', path: '/_admin/stats', handler: resetStats },
  { method: 'GET', path: '/_admin/log', handler: recentRequests },
  { method: 'GET', path: '/_admin/day', handler: presetDay },
  { method: 'POST', path: '/_admin/advance-day', handler: advanceDay },
];

/** The answer to a request under /_admin/: an exact method and path, or 404. */
export function routeAdmin(r: RequestContext): AdminReply | Promise<AdminReply> {
  const found = ADMIN_ROUTES.find((a) => a.method === r.method && a.path === r.path);
  return found ? found.handler(r) : unknownAdmin();
}
