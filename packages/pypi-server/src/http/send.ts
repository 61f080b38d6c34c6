import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultRule } from '../faults';
import type { RequestRecord } from '../stats';
import type { ServerContext } from './context';
import type { Reply } from './reply';

/**
 * Writes `reply` (streamed, or whole), spoiled by `fault` when it is one of slow, truncate or
 * wrong-bytes, and records the request once its bytes are written.
 */
export async function send(
  server: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  path: string,
  fault?: FaultRule,
): Promise<void> {
  // A fault that changes the body needs it whole; faults are for small test indexes.
  if (reply.stream && fault && ['truncate', 'slow', 'wrong-bytes'].includes(fault.kind)) {
    const parts: string[] = [];
    for await (const part of reply.stream) parts.push(part);
    reply = { ...reply, body: Buffer.from(parts.join(''), 'utf8'), stream: undefined };
  }
  const head = req.method?.toUpperCase() === 'HEAD';
  let body = reply.body;
  const headers = { ...reply.headers };
  if (reply.status !== 304 && !reply.stream) headers['Content-Length'] ??= String(body.length);
  if (fault?.kind === 'wrong-bytes' && body.length > 0) {
    // Same length, one byte changed: only a digest check notices.
    body = Buffer.from(body);
    const at = Math.min(fault.bytes ?? Math.floor(body.length / 2), body.length - 1);
    body[at] = body[at]! ^ 0xff;
  }
  const entry: RequestRecord = {
    at: Date.now(),
    method: req.method?.toUpperCase() ?? 'GET',
    path,
    route: reply.route,
    status: reply.status,
    bytes: 0,
    xmlrpcMethod: reply.xmlrpcMethod,
    fault: fault?.kind,
    contentRange: reply.status === 206 ? headers['Content-Range'] : undefined,
  };
  res.writeHead(reply.status, headers);
  if (reply.stream && !head) {
    // Chunked: written as it is produced, waiting whenever the socket's buffer is full.
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    try {
      for await (const chunk of reply.stream) {
        if (closed) break;
        const bytes = Buffer.from(chunk, 'utf8');
        entry.bytes += bytes.length;
        if (!res.write(bytes)) await drained(res);
      }
      if (!closed) res.end();
    } catch (err) {
      // Too late for an error status: cut the response, so the client sees it incomplete.
      server.log.error({ err, path }, 'response failed while streaming');
      res.destroy();
    }
    server.record(entry);
    return;
  }
  if (head || reply.status === 304 || body.length === 0) {
    res.end();
    server.record(entry);
    return;
  }
  if (fault?.kind === 'truncate') {
    const n = Math.min(fault.bytes ?? Math.floor(body.length / 2), Math.max(0, body.length - 1));
    entry.bytes = n;
    server.record(entry);
    res.write(body.subarray(0, n), () => res.socket?.destroy());
    if (n === 0) res.socket?.destroy();
    return;
  }
  if (fault?.kind === 'slow') {
    const delay = fault.delayMs ?? 200;
    const chunk = Math.max(1, fault.bytes ?? 16 * 1024);
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    for (let off = 0; off < body.length && !closed; off += chunk) {
      await new Promise((r) => setTimeout(r, delay));
      if (closed) break;
      const part = body.subarray(off, off + chunk);
      res.write(part);
      entry.bytes += part.length;
    }
    if (!closed) res.end();
    server.record(entry);
    return;
  }
  entry.bytes = body.length;
  server.record(entry);
  res.end(body);
}

/** Resolves when the response can take more (or is gone). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
