import type { Logger } from '@pypi-graph/core';
import { UPLOADER } from './index-model';
import type { IndexSource } from './index-source';
import {
  dumpFault,
  dumpResponseChunks,
  LazyArray,
  LazyStruct,
  methodNotFoundFault,
  parseMethodCall,
  wrappedFault,
  XmlRpcFault,
  type XmlRpcValue,
} from './xmlrpc';

// The XML-RPC methods PyPI still serves, with warehouse's answers and faults
// (warehouse/legacy/api/xmlrpc/views.py). https://docs.pypi.org/api/xml-rpc/

/** PyPI's page size for changelog_since_serial. */
export const CHANGELOG_PAGE = 50_000;

const DEPRECATION_URL = 'https://warehouse.pypa.io/api-reference/xml-rpc.html#deprecated-methods';

/**
 * Calls allowed per client per second, over a moving one-second window, like warehouse's
 * `limits`-based XML-RPC rate limiter (warehouse/rate_limiting).
 */
export class XmlRpcRateLimiter {
  private readonly hits = new Map<string, number[]>();
  constructor(private readonly perSecond: number) {}

  /** Records a call; returns the seconds until the limit resets when over it. */
  hit(client: string, now = Date.now()): number | undefined {
    const recent = (this.hits.get(client) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= this.perSecond) {
      this.hits.set(client, recent);
      return Math.max(1, Math.floor((recent[0]! + 1000 - now) / 1000));
    }
    recent.push(now);
    this.hits.set(client, recent);
    return undefined;
  }
}

// warehouse's ratelimit() decorator: HTTPTooManyRequests wrapped as a -32500 fault.
function rateLimitedFault(resetsIn: number): XmlRpcFault {
  return wrappedFault(
    'HTTPTooManyRequests',
    `The action could not be performed because there were too many requests by the client. Limit may reset in ${resetsIn} seconds.`,
  );
}

// TypedMapplyViewMapper turns pydantic validation errors into -32602 "client error; …".
const invalidParams = (detail: string) => new XmlRpcFault(-32602, `client error; ${detail}`);

function strictInt(params: XmlRpcValue[], i: number, name: string): number {
  if (params.length <= i) throw invalidParams(`${name}: Missing required argument`);
  const v = params[i];
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw invalidParams(`${name}: Input should be a valid integer`);
  }
  return v;
}

function strictStr(params: XmlRpcValue[], i: number, name: string): string {
  if (params.length <= i) throw invalidParams(`${name}: Missing required argument`);
  const v = params[i];
  if (typeof v !== 'string') throw invalidParams(`${name}: Input should be a valid string`);
  return v;
}

function arity(params: XmlRpcValue[], max: number): void {
  if (params.length > max) throw invalidParams(`${max}: Unexpected positional argument`);
}

type Method = (index: IndexSource, params: XmlRpcValue[]) => XmlRpcValue | LazyArray | LazyStruct;

function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

const deprecated =
  (exception: string, message: string): Method =>
  () => {
    throw wrappedFault(exception, message);
  };

const METHODS: Record<string, Method> = {
  // Mirroring support.
  changelog_last_serial(index, params) {
    arity(params, 0);
    // max(JournalEntry.id): None (<nil/>) on an empty journal.
    return index.lastSerial || null;
  },
  changelog_since_serial(index, params) {
    arity(params, 1);
    const since = strictInt(params, 0, 'serial');
    return new LazyArray(
      mapIterable(index.changelogSince(since, CHANGELOG_PAGE), (r) => [
        r.name,
        r.version,
        r.timestamp,
        r.action,
        r.serial,
      ]),
    );
  },
  list_packages_with_serial(index, params) {
    arity(params, 0);
    return new LazyStruct(mapIterable(index.listProjects(), (p) => [p.name, p.lastSerial]));
  },
  // Package querying methods.
  package_roles(index, params) {
    arity(params, 1);
    const name = strictStr(params, 0, 'package_name');
    return index.hasProject(name.replace(/[-_.]+/g, '-').toLowerCase()) ? [['Owner', UPLOADER]] : [];
  },
  user_packages(index, params) {
    arity(params, 1);
    const user = strictStr(params, 0, 'username');
    return user === UPLOADER
      ? new LazyArray(mapIterable(index.listProjects(), (p) => ['Owner', p.name]))
      : [];
  },
  browse(_index, params) {
    arity(params, 1);
    if (!Array.isArray(params[0])) throw invalidParams('classifiers: Input should be a valid list');
    return [];
  },
  'system.multicall': deprecated(
    'ValueError',
    'MultiCall requests have been deprecated, use individual requests instead.',
  ),
  // Deprecated methods.
  changelog: deprecated(
    'ValueError',
    'The changelog method has been deprecated, use changelog_since_serial instead.',
  ),
  package_data: deprecated(
    'RuntimeError',
    `This API has been deprecated. See ${DEPRECATION_URL} for more information.`,
  ),
  package_urls: deprecated(
    'RuntimeError',
    `This API has been deprecated. See ${DEPRECATION_URL} for more information.`,
  ),
  top_packages: deprecated(
    'RuntimeError',
    `This API has been removed. Use BigQuery instead. See ${DEPRECATION_URL} for more information.`,
  ),
  search: deprecated(
    'RuntimeError',
    `PyPI no longer supports 'pip search' (or XML-RPC search). Please use https://pypi.org/search (via a browser) instead. See ${DEPRECATION_URL} for more information.`,
  ),
  list_packages: deprecated(
    'RuntimeError',
    `PyPI no longer supports the XMLRPC list_packages method. Use Simple API instead. See ${DEPRECATION_URL} for more information.`,
  ),
  package_releases: deprecated(
    'RuntimeError',
    `PyPI no longer supports the XMLRPC package_releases method. Use JSON or Simple API instead. See ${DEPRECATION_URL} for more information.`,
  ),
  release_urls: deprecated(
    'RuntimeError',
    `PyPI no longer supports the XMLRPC release_urls method. Use JSON or Simple API instead. See ${DEPRECATION_URL} for more information.`,
  ),
  release_data: deprecated(
    'RuntimeError',
    `PyPI no longer supports the XMLRPC release_data method. Use JSON or Simple API instead. See ${DEPRECATION_URL} for more information.`,
  ),
};

export interface XmlRpcCallOptions {
  limiter?: XmlRpcRateLimiter;
  /** Where a method's own failure (not a fault it means to send) is logged. */
  log?: Logger;
  clientKey: string;
  /** Answer with the rate-limit fault regardless of the limiter (fault injection). */
  forceRateLimit?: boolean;
}

/** Answers one XML-RPC request body; always a well-formed `<methodResponse>`, in chunks. */
export function handleXmlRpc(
  index: IndexSource,
  body: string,
  options: XmlRpcCallOptions,
): { chunks: Iterable<string>; method?: string } {
  let method: string | undefined;
  try {
    const call = parseMethodCall(body);
    method = call.method;
    const impl = Object.hasOwn(METHODS, call.method) ? METHODS[call.method] : undefined;
    if (!impl) throw methodNotFoundFault();
    if (options.forceRateLimit) throw rateLimitedFault(1);
    const resetsIn = options.limiter?.hit(options.clientKey);
    if (resetsIn !== undefined) throw rateLimitedFault(resetsIn);
    return { chunks: dumpResponseChunks(impl(index, call.params)), method };
  } catch (err) {
    if (err instanceof XmlRpcFault) return { chunks: [dumpFault(err)], method };
    // pyramid_rpc's exception view: anything else is an application error.
    options.log?.error({ err, method }, 'XML-RPC method failed');
    return { chunks: [dumpFault(new XmlRpcFault(-32500, 'application error'))], method };
  }
}
