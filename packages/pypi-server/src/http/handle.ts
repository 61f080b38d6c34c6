import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerContext } from './context';
import { faultReply, REQUEST_FAULTS } from './faults';
import { text } from './reply';
import { route, routeAdmin } from './routes';
import { send } from './send';

/** One request, start to end: the path decoded, a fault taken, the route's answer sent. */
export async function handleRequest(
  server: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'http://localhost');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return send(server, req, res, text(400, '400 Bad Request\n', 'other'), url.pathname);
  }
  const r = { server, req, method, path, url, baseUrl: server.baseUrlOf(req) };
  if (path.startsWith('/_admin/')) {
    const { status, value } = await routeAdmin(r);
    const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
    res.end(body);
    return;
  }
  const fault = server.faults.take(method, path, REQUEST_FAULTS);
  const instead = fault && faultReply(fault);
  if (instead) return send(server, req, res, instead, path, fault);
  return send(server, req, res, await route(r), path, fault);
}
