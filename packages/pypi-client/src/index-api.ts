import { pep503Name } from '@pypi-graph/pyspec';
import type { z } from 'zod';
import { resolveHttpUrl } from './common';
import type { HttpClient, HttpResponse } from './http';
import { invalidResponse } from './http-errors';
import {
  ProjectJsonFile,
  ProjectJsonPage,
  parseEach,
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
   * is dropped and counted; 404 is `project-not-found`.
   */
  getSimpleProject(name: string, options: CallOptions = {}): Promise<SimpleProject> {
    const url = new URL(`simple/${encodeURIComponent(pep503Name(name))}/`, this.#base);
    return this.#getJson(url, SIMPLE_JSON, options, (res, body) => {
      const page = validate(SimpleProjectPage, body, res);
      const parsed = parseEach(SimpleFile, page.files);
      const files: SimpleFile[] = [];
      let dropped = parsed.dropped;
      for (const f of parsed.items) {
        const abs = resolveHttpUrl(f.url, res.url);
        if (abs === undefined) dropped++;
        else files.push({ ...f, url: abs.href });
      }
      this.#dropped(dropped, { project: page.name, firstError: parsed.firstError }, 'simple page');
      return {
        name: page.name,
        url: res.url.href,
        apiVersion: page.meta['api-version'],
        lastSerial: lastSerialHeader(res) ?? page.meta['_last-serial'] ?? null,
        versions: page.versions ?? null,
        files,
        dropped,
      };
    });
  }

  /** PyPI's JSON API for `name`: every release's files. A malformed file is dropped and counted. */
  getProjectJson(name: string, options: CallOptions = {}): Promise<ProjectJson> {
    const url = new URL(`pypi/${encodeURIComponent(name)}/json`, this.#base);
    return this.#getJson(url, 'application/json', options, (res, body) => {
      const page = validate(ProjectJsonPage, body, res);
      const releases = new Map<string, ProjectJsonFile[]>();
      let dropped = 0;
      let firstError: string | undefined;
      for (const [version, rawFiles] of Object.entries(page.releases)) {
        if (!Array.isArray(rawFiles)) {
          dropped++;
          continue;
        }
        const parsed = parseEach(ProjectJsonFile, rawFiles);
        firstError ??= parsed.firstError;
        dropped += parsed.dropped;
        const files: ProjectJsonFile[] = [];
        for (const f of parsed.items) {
          const abs = resolveHttpUrl(f.url, res.url);
          if (abs === undefined) dropped++;
          else files.push({ ...f, url: abs.href });
        }
        releases.set(version, files);
      }
      this.#dropped(dropped, { project: page.info.name, firstError }, 'project json');
      return {
        name: page.info.name,
        version: page.info.version ?? null,
        lastSerial: page.last_serial,
        releases,
        dropped,
      };
    });
  }

  /** The PEP 691 root page `/simple/`: every project and its last serial. */
  getSimpleIndex(options: CallOptions = {}): Promise<SimpleIndex> {
    const url = new URL('simple/', this.#base);
    return this.#getJson(url, SIMPLE_JSON, options, (res, body) => {
      const page = validate(SimpleIndexPage, body, res);
      const { items, dropped, firstError } = parseEach(SimpleIndexEntry, page.projects);
      this.#dropped(dropped, { firstError }, 'simple index');
      return {
        lastSerial: lastSerialHeader(res) ?? page.meta['_last-serial'] ?? null,
        projects: items,
        dropped,
      };
    });
  }

  #getJson<T>(
    url: URL,
    accept: string,
    options: CallOptions,
    build: (res: HttpResponse, body: unknown) => T,
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
        return build(res, await res.json(http.config.httpMaxResponseBytes));
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
    const issues = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw invalidResponse(res.url.href, `unexpected answer: ${issues}`, r.error);
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
