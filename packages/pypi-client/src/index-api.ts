import { pep503Name } from '@pypi-graph/pyspec';
import type { z } from 'zod';
import { resolveHttpUrl } from './common';
import type { HttpClient, HttpResponse } from './http';
import { invalidResponse } from './http-errors';
import { JsonObjectStream, JsonStreamSyntaxError } from './json-stream';
import {
  issuesText,
  ProjectJsonFile,
  ProjectJsonPage,
  SerialHeader,
  SimpleFile,
  SimpleIndexEntry,
  SimpleIndexPage,
  SimpleProjectPage,
} from './schema';
import type { CallOptions, ProjectJson, SimpleIndex, SimpleProject } from './types';

// https://peps.python.org/pep-0691/#version-format-selection: ask for the JSON form only; a
// server that cannot give it answers 406 or HTML, and both are `response-invalid` here.
const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

/** Reads the Simple and JSON APIs of one index. */
export class IndexApi {
  readonly #http: HttpClient;
  readonly #base: string;

  constructor(http: HttpClient, pypiUrl: string) {
    this.#http = http;
    this.#base = `${pypiUrl.replace(/\/+$/, '')}/`;
  }

  /**
   * The PEP 691 project page of `name` (normalized per PEP 503 first). A malformed file entry
   * is dropped and counted; 404 is `project-not-found`. Read as it arrives, a file at a time.
   */
  getSimpleProject(name: string, options: CallOptions = {}): Promise<SimpleProject> {
    const url = new URL(`simple/${encodeURIComponent(pep503Name(name))}/`, this.#base);
    return this.#streamJson(url, SIMPLE_JSON, options, 'files', ['meta', 'name', 'versions'], (res) => {
      const files: SimpleFile[] = [];
      const bad = new Dropped();
      return {
        element: (_key, raw) => {
          const f = bad.check(SimpleFile, raw);
          if (f === undefined) return;
          const abs = resolveHttpUrl(f.url, res.url);
          if (abs === undefined) bad.count++;
          else files.push({ ...f, url: abs.href });
        },
        finish: (envelope) => {
          const page = validate(SimpleProjectPage, envelope, res);
          this.#dropped(bad.count, { project: page.name, firstError: bad.firstError }, 'simple page');
          return {
            name: page.name,
            url: res.url.href,
            apiVersion: page.meta['api-version'],
            lastSerial: lastSerialHeader(res) ?? page.meta['_last-serial'] ?? null,
            versions: page.versions ?? null,
            files,
            dropped: bad.count,
          };
        },
      };
    });
  }

  /**
   * PyPI's JSON API for `name`: every release's files. A malformed file is dropped and counted.
   * Read as it arrives, a release at a time; releases keep the order of the answer.
   */
  getProjectJson(name: string, options: CallOptions = {}): Promise<ProjectJson> {
    const url = new URL(`pypi/${encodeURIComponent(name)}/json`, this.#base);
    return this.#streamJson(url, 'application/json', options, 'releases', ['info', 'last_serial'], (res) => {
      const releases = new Map<string, ProjectJsonFile[]>();
      const bad = new Dropped();
      return {
        element: (version, rawFiles) => {
          if (!Array.isArray(rawFiles)) {
            bad.count++;
            return;
          }
          const files: ProjectJsonFile[] = [];
          for (const raw of rawFiles) {
            const f = bad.check(ProjectJsonFile, raw);
            if (f === undefined) continue;
            const abs = resolveHttpUrl(f.url, res.url);
            if (abs === undefined) bad.count++;
            else files.push({ ...f, url: abs.href });
          }
          // A version given twice: the later one stands, as JSON.parse would have it.
          releases.delete(String(version));
          releases.set(String(version), files);
        },
        finish: (envelope) => {
          const page = validate(ProjectJsonPage, envelope, res);
          this.#dropped(bad.count, { project: page.info.name, firstError: bad.firstError }, 'project json');
          return {
            name: page.info.name,
            version: page.info.version ?? null,
            lastSerial: page.last_serial,
            releases,
            dropped: bad.count,
          };
        },
      };
    });
  }

  /** The PEP 691 root page `/simple/`: every project and its last serial, read as it arrives. */
  getSimpleIndex(options: CallOptions = {}): Promise<SimpleIndex> {
    const url = new URL('simple/', this.#base);
    return this.#streamJson(url, SIMPLE_JSON, options, 'projects', ['meta'], (res) => {
      const projects: SimpleIndexEntry[] = [];
      const bad = new Dropped();
      return {
        element: (_key, raw) => {
          const p = bad.check(SimpleIndexEntry, raw);
          if (p !== undefined) projects.push(p);
        },
        finish: (envelope) => {
          const page = validate(SimpleIndexPage, envelope, res);
          this.#dropped(bad.count, { firstError: bad.firstError }, 'simple index');
          return {
            lastSerial: lastSerialHeader(res) ?? page.meta['_last-serial'] ?? null,
            projects,
            dropped: bad.count,
          };
        },
      };
    });
  }

  /**
   * An answer whose top level is an object, read as it arrives (JsonObjectStream): the members
   * named by `keep` are gathered into an envelope, and the elements of `streamed` are handed to
   * the reader one at a time, never held as text or as a whole parsed tree. `start` is called
   * for every attempt, so that a retried request begins from nothing.
   */
  #streamJson<T>(
    url: URL,
    accept: string,
    options: CallOptions,
    streamed: string,
    keep: readonly string[],
    start: (res: HttpResponse) => {
      element(key: string | number, value: unknown): void;
      finish(envelope: Record<string, unknown>): T;
    },
  ): Promise<T> {
    const http = this.#http;
    return http.request(
      {
        url,
        headers: { accept },
        kind: 'api',
        gzip: true,
        signal: options.signal,
        statusCodes: { 404: 'project-not-found' },
      },
      async (res) => {
        const type = res.header('content-type') ?? '';
        if (!/json/i.test(type)) {
          res.destroy();
          throw invalidResponse(res.url.href, `expected ${accept}, got Content-Type "${type}"`);
        }
        const reader = start(res);
        const envelope: Record<string, unknown> = {};
        const stream = new JsonObjectStream(streamed, keep, {
          member: (name, value) => {
            envelope[name] = value;
          },
          element: (key, value) => reader.element(key, value),
        });
        try {
          for await (const chunk of res.decodedChunks(http.config.httpMaxResponseBytes)) stream.write(chunk);
          stream.end();
        } catch (err) {
          if (err instanceof JsonStreamSyntaxError)
            throw invalidResponse(res.url.href, 'body is not JSON', err);
          throw err;
        }
        return reader.finish(envelope);
      },
    );
  }

  #dropped(n: number, facts: Record<string, unknown>, what: string): void {
    if (n === 0) return;
    this.#http.countDropped(n);
    this.#http.logger.warn({ ...facts, dropped: n }, `dropped malformed entries from ${what}`);
  }
}

function validate<S extends z.ZodType>(schema: S, body: unknown, res: HttpResponse): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) {
    throw invalidResponse(res.url.href, `unexpected answer: ${issuesText(r.error)}`, r.error);
  }
  return r.data;
}

// https://warehouse.pypa.io/api-reference/index.html: every API answer carries X-PyPI-Last-Serial.
function lastSerialHeader(res: HttpResponse): number | undefined {
  const raw = res.header('x-pypi-last-serial');
  if (raw === undefined) return undefined;
  const r = SerialHeader.safeParse(raw.trim());
  return r.success ? r.data : undefined;
}

/** Entries of an answer left out as malformed: how many, and the first one's complaint. */
class Dropped {
  count = 0;
  firstError: string | undefined;

  /** The entry as `schema` gives it, or undefined (counted) when it does not fit. */
  check<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> | undefined {
    const r = schema.safeParse(raw);
    if (r.success) return r.data;
    this.count++;
    this.firstError ??= issuesText(r.error);
    return undefined;
  }
}
