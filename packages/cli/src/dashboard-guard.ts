import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { configError } from '@pypi-graph/core';

// What stands in front of bull-board, which can retry, promote, clean and remove jobs:
//  - the Host check (DNS rebinding): a page on evil.example whose name the attacker re-points at
//    127.0.0.1 reaches a dashboard on the victim's loopback from the victim's own browser, with
//    `Host: evil.example`. Only names the dashboard is reached by are answered.
//  - credentials (HTTP basic auth) whenever it listens beyond loopback, and whenever they are set.

export interface GuardOptions {
  /** The address it listens on (`--host`). */
  host: string;
  user: string | undefined;
  password: string | undefined;
  /** Further host names it answers to (DASHBOARD_HOSTS), lower case. */
  extraHosts: readonly string[];
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

function bare(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** Whether an address (or `localhost`) is this machine's loopback. */
export function isLoopback(host: string): boolean {
  const h = bare(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '::ffff:127.0.0.1';
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`), lower case; undefined when malformed. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim());
  return m ? bare(m[1]!) : undefined;
}

/**
 * Which `Host` names are answered: the listening address itself, loopback names (how ssh -L,
 * a port published on 127.0.0.1 and a health check reach it), DASHBOARD_HOSTS, and, when it
 * listens on every interface, any IP address (the machine's own; a rebinding attack needs a
 * name it controls). Ports are not compared: forwarding and publishing change them, and an
 * attacker's request is told apart by its name.
 */
export function hostAllowed(name: string, options: Pick<GuardOptions, 'host' | 'extraHosts'>): boolean {
  if (name === bare(options.host) || isLoopback(name) || options.extraHosts.includes(name)) return true;
  return WILDCARDS.has(options.host) && isIP(name) !== 0;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Checks the settings at start: credentials beyond loopback, and both or neither of them. */
export function checkGuardOptions(options: GuardOptions): void {
  if ((options.user === undefined) !== (options.password === undefined)) {
    throw configError(
      'config-invalid',
      'DASHBOARD_USER and DASHBOARD_PASSWORD go together: one is set, not the other',
      {
        hint: 'set both (HTTP basic auth of `pnpm dashboard`), or neither to keep it on 127.0.0.1 without a login',
      },
    );
  }
  if (options.user === undefined && !isLoopback(options.host)) {
    throw configError(
      'config-invalid',
      `the dashboard would listen on ${options.host}, beyond this machine, without credentials`,
      {
        hint: 'set DASHBOARD_USER and DASHBOARD_PASSWORD (HTTP basic auth), or listen on 127.0.0.1 and reach it with ssh -L 3000:127.0.0.1:3000 host',
      },
    );
  }
}

/** Wraps the board's request listener with the Host check and, when set, the credentials. */
export function guard(options: GuardOptions, next: RequestListener): RequestListener {
  checkGuardOptions(options);
  const expected =
    options.user === undefined ? undefined : digest(`${options.user}:${options.password ?? ''}`);
  const refuse = (
    res: ServerResponse,
    status: number,
    text: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(`${text}\n`);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const name = hostOfHeader(req.headers.host);
    if (name === undefined) return refuse(res, 400, 'a Host header is required');
    if (!hostAllowed(name, options)) {
      return refuse(res, 403, `this dashboard does not answer to the host name ${name} (DASHBOARD_HOSTS)`);
    }
    if (expected !== undefined) {
      const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
      const given = digest(m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '');
      if (!timingSafeEqual(given, expected)) {
        return refuse(res, 401, 'credentials required', {
          'www-authenticate': 'Basic realm="pypi-graph dashboard", charset="UTF-8"',
        });
      }
    }
    next(req, res);
  };
}
