import { StringDecoder } from 'node:string_decoder';
import { type CrawlError, httpError } from '@pypi-graph/core';
import type { ChangelogRow } from '@pypi-graph/model';
import type { HttpClient, HttpRequest } from './http';
import { invalidResponse } from './http-errors';
import { XMLRPC_KEY } from './rate-limiter';
import { ChangelogRowSchema, parseEach, SerialValue } from './schema';
import type { CallOptions, SerialAt, SerialAtOptions } from './types';
import {
  parseMethodResponse,
  StructMemberReader,
  serializeMethodCall,
  type XmlRpcResponse,
  XmlRpcSyntaxError,
  type XmlRpcValue,
} from './xmlrpc-codec';

// https://warehouse.pypa.io/api-reference/xml-rpc.html
// PyPI's XML-RPC API is deprecated but remains the only source of the changelog serials;
// PyPI asks for at most one request per second, enforced through the `xmlrpc` limiter key.

/** Warehouse's rate-limit fault: -32500 "HTTPTooManyRequests: … Limit may reset in N seconds." */
const RATE_LIMIT_FAULT = -32500;

/** The CrawlError for an XML-RPC fault. */
export function faultError(faultCode: number, faultString: string, method: string): CrawlError {
  const details = { method, faultCode, faultString };
  if (faultCode === RATE_LIMIT_FAULT && /TooManyRequests/i.test(faultString)) {
    const seconds = /reset in (\d+(?:\.\d+)?) seconds?/i.exec(faultString)?.[1];
    return httpError('xmlrpc-rate-limited', `XML-RPC ${method}: ${faultString}`, {
      retryAfterMs: seconds === undefined ? undefined : Math.ceil(Number(seconds) * 1000),
      hint: 'lower XMLRPC_RPS; PyPI allows about one XML-RPC request per second',
      details,
    });
  }
  return httpError('xmlrpc-fault', `XML-RPC ${method} fault ${faultCode}: ${faultString}`, { details });
}

/** An answer that is not well-formed XML-RPC is `response-invalid`; other errors pass unchanged. */
function asInvalid(err: unknown, url: string, method: string): unknown {
  return err instanceof XmlRpcSyntaxError
    ? invalidResponse(url, `XML-RPC ${method}: ${err.message}`, err)
    : err;
}

/** Calls XML-RPC methods on the index's `/pypi` endpoint. */
export class XmlRpcClient {
  readonly #http: HttpClient;
  readonly #endpoint: URL;

  constructor(http: HttpClient, endpoint: URL) {
    this.#http = http;
    this.#endpoint = endpoint;
  }

  #post(method: string, params: readonly XmlRpcValue[], options: CallOptions): HttpRequest {
    return {
      url: this.#endpoint,
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: serializeMethodCall(method, params),
      limiterKey: XMLRPC_KEY,
      kind: 'xmlrpc',
      gzip: true,
      signal: options.signal,
    };
  }

  /** One call; faults become CrawlErrors (the rate-limit fault is retried by the HTTP layer). */
  call(method: string, params: readonly XmlRpcValue[], options: CallOptions = {}): Promise<XmlRpcValue> {
    const http = this.#http;
    return http.request(this.#post(method, params, options), async (res) => {
      const text = await res.text(http.config.httpMaxResponseBytes);
      let parsed: XmlRpcResponse;
      try {
        parsed = parseMethodResponse(text);
      } catch (err) {
        throw asInvalid(err, res.url.href, method);
      }
      if (parsed.kind === 'fault') throw faultError(parsed.faultCode, parsed.faultString, method);
      return parsed.value;
    });
  }

  async changelogLastSerial(options: CallOptions = {}): Promise<number> {
    const value = await this.call('changelog_last_serial', [], options);
    const serial = SerialValue.safeParse(value);
    if (!serial.success) {
      throw invalidResponse(this.#endpoint.href, `changelog_last_serial returned ${String(value)}`);
    }
    return serial.data;
  }

  /** Rows with a serial above `serial`, in serial order; malformed rows are dropped and counted. */
  async changelogSinceSerial(serial: number, options: CallOptions = {}): Promise<ChangelogRow[]> {
    const value = await this.call('changelog_since_serial', [serial], options);
    if (!Array.isArray(value)) {
      throw invalidResponse(this.#endpoint.href, 'changelog_since_serial did not return an array');
    }
    const { items, dropped, firstError } = parseEach(ChangelogRowSchema, value);
    if (dropped > 0) {
      this.#http.countDropped(dropped);
      this.#http.logger.warn({ since: serial, dropped, firstError }, 'dropped malformed changelog rows');
    }
    return items.sort((a, b) => a.serial - b.serial);
  }

  /**
   * Every project with the serial of its last change: `list_packages_with_serial` read as it arrives (StructMemberReader): `onBatch` gets the
   * valid [name, serial] entries `batchSize` at a time, so neither the body (some 50 MB at PyPI's
   * size) nor the listing is held whole. Malformed entries are dropped and counted. Returns how
   * many entries were delivered. A retried request delivers its entries again from the start:
   * `onBatch` must be idempotent.
   */
  async eachPackageWithSerial(
    onBatch: (batch: Array<[string, number]>) => Promise<void>,
    options: CallOptions & { batchSize?: number } = {},
  ): Promise<number> {
    const method = 'list_packages_with_serial';
    const size = options.batchSize ?? 1000;
    const http = this.#http;
    return http.request(this.#post(method, [], options), async (res) => {
      const reader = new StructMemberReader();
      const decoder = new StringDecoder('utf8');
      let batch: Array<[string, number]> = [];
      let delivered = 0;
      let dropped = 0;
      const take = async (members: Iterable<[string, XmlRpcValue]>) => {
        for (const [name, serial] of members) {
          if (name !== '' && typeof serial === 'number' && Number.isSafeInteger(serial) && serial >= 0) {
            batch.push([name, serial]);
          } else dropped++;
          if (batch.length < size) continue;
          await onBatch(batch);
          delivered += batch.length;
          batch = [];
        }
      };
      try {
        for await (const chunk of res.decodedChunks(http.config.httpMaxResponseBytes)) {
          await take(reader.push(decoder.write(chunk)));
        }
        await take(reader.push(decoder.end()));
        const end = reader.finish();
        if (end.kind === 'fault') throw faultError(end.faultCode, end.faultString, method);
        if (end.kind === 'value') {
          if (!(end.value instanceof Map))
            throw invalidResponse(res.url.href, `${method} did not return a struct`);
          await take(end.value);
        }
      } catch (err) {
        throw asInvalid(err, res.url.href, method);
      }
      if (batch.length > 0) await onBatch(batch);
      delivered += batch.length;
      if (dropped > 0) {
        this.#http.countDropped(dropped);
        this.#http.logger.warn({ dropped }, `dropped malformed ${method} entries`);
      }
      return delivered;
    });
  }

  async changelogSerialAt(time: Date | number, options: SerialAtOptions = {}): Promise<SerialAt> {
    const last = options.lastSerial ?? (await this.changelogLastSerial(options));
    const seconds = time instanceof Date ? time.getTime() / 1000 : time;
    return findSerialAt((s) => this.changelogSinceSerial(s, options), last, seconds);
  }
}

/**
 * The serial "just before" `time` (Unix seconds): the largest serial S such that the first
 * changelog row after S happened at or after `time`, so `changelog_since_serial(S)` yields
 * exactly the events from `time` on. Binary search over [0, last]: if the first row after `mid`
 * is at or after `time`, the answer is ≤ mid; otherwise it is ≥ that row's serial. A page that
 * contains the crossing answers at once. Relies on timestamps growing with serials, as
 * PyPI's journal does. Holds one page at a time (up to 50,000 rows on PyPI): the pages it reads
 * are dropped once searched (keeping them held 380,000 rows, ~400 MB, at PyPI's size, for nobody).
 */
export async function findSerialAt(
  since: (serial: number) => Promise<ChangelogRow[]>,
  last: number,
  time: number,
): Promise<SerialAt> {
  let lo = 0;
  let hi = last;
  let probes = 0;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    probes++;
    const rows = (await since(mid)).filter((r) => r.serial > mid);
    const first = rows[0];
    if (first === undefined || first.timestamp >= time) {
      hi = mid;
      continue;
    }
    let k = 0;
    while (k + 1 < rows.length && rows[k + 1]!.timestamp < time) k++;
    lo = Math.min(rows[k]!.serial, hi);
    // The page crosses `time`: the row after rows[k] is the first at or after it.
    if (k + 1 < rows.length) hi = lo;
  }
  return { serial: lo, probes };
}
