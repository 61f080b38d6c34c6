import type { IncomingMessage } from 'node:http';
import { httpError } from '@pypi-graph/core';
import { pythonJsonDumps } from '@pypi-graph/pyspec';
import { MIME_HTML, MIME_SIMPLE_JSON } from '../content-negotiation';
import type { RouteKind } from '../stats';

/** A handler's answer; `send` writes it (and applies the fault that matched the request). */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** A body produced while it is sent (listings, project pages), instead of `body`. */
  stream?: Iterable<string> | AsyncIterable<string>;
  route: RouteKind;
  xmlrpcMethod?: string;
}

export const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers':
    'Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since',
  'Access-Control-Allow-Methods': 'GET',
  'Access-Control-Max-Age': '86400',
  'Access-Control-Expose-Headers': 'X-PyPI-Last-Serial',
};

export const text = (
  status: number,
  body: string,
  route: RouteKind,
  headers: Record<string, string> = {},
): Reply => ({
  status,
  headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers },
  body: Buffer.from(body, 'utf8'),
  route,
});

export const notFound = (): Reply => ({
  ...text(404, '404 Not Found\n', 'not-found'),
  headers: { 'Content-Type': 'text/html; charset=utf-8' },
});

// Warehouse answers unknown JSON API projects and versions with this body.
export const jsonNotFound = (): Reply => ({
  status: 404,
  headers: { 'Content-Type': 'application/json', ...CORS },
  body: Buffer.from(pythonJsonDumps({ message: 'Not Found' })),
  route: 'not-found',
});

export const redirect = (location: string): Reply => ({
  ...text(301, `301 Moved Permanently\n\nThe resource has been moved to ${location}\n`, 'redirect', {
    Location: location,
    ...CORS,
  }),
});

/** 405, with the methods the path answers (and no other header). */
export const methodNotAllowed = (allow: readonly string[], route: RouteKind): Reply => ({
  ...text(405, '405 Method Not Allowed\n', route),
  headers: { Allow: allow.join(', ') },
});

export function notAcceptable(): Reply {
  return text(
    406,
    `406 Not Acceptable\n\nAvailable: ${MIME_HTML}, application/vnd.pypi.simple.v1+html, ${MIME_SIMPLE_JSON}\n`,
    'other',
    { Vary: 'Accept' },
  );
}

/** The headers of a Simple API page in `format`, its body streamed by the caller. */
export function simpleReply(format: string, body: string, serial: number, route: RouteKind): Reply {
  const contentType = format === MIME_SIMPLE_JSON ? format : `${format}; charset=utf-8`;
  return {
    status: 200,
    headers: {
      'Content-Type': contentType,
      Vary: 'Accept',
      'X-PyPI-Last-Serial': String(serial),
      'Cache-Control': 'max-age=600, public',
      ...CORS,
    },
    body: Buffer.from(body, 'utf8'),
    route,
  };
}

export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw httpError('response-too-large', `request body over ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
