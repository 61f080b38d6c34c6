// XML-RPC at /pypi, /pypi/ and /RPC2 (warehouse/routes.py).
import { handleXmlRpc } from '../xmlrpc-methods';
import type { RequestContext } from './context';
import { type Reply, readBody } from './reply';

/** One XML-RPC call (POST), its answer streamed. */
export async function xmlRpc({ server, req, method, path }: RequestContext): Promise<Reply> {
  const body = await readBody(req, 10 * 1024 * 1024);
  const clientKey = req.socket.remoteAddress ?? 'unknown';
  const rateFault = server.faults.take(method, path, ['xmlrpc-rate-limit']);
  const result = handleXmlRpc(server.source, body.toString('utf8'), {
    limiter: server.limiter,
    clientKey,
    forceRateLimit: rateFault !== undefined,
    log: server.log,
  });
  return {
    status: 200,
    headers: { 'Content-Type': 'text/xml; charset=utf-8' },
    body: Buffer.alloc(0),
    stream: result.chunks,
    route: 'xmlrpc',
    xmlrpcMethod: result.method,
  };
}
