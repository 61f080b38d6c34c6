// The crawl's HTTP work without any database: for every project of the index, GET the JSON API
// page and the PEP 691 Simple page (https://peps.python.org/pep-0691/) and parse both, with
// `--concurrency` projects in flight, as the project jobs do. Run by `pnpm bench index` and
// `pnpm bench backfill` as its own measured process; prints one JSON line: projects, files,
// seconds. `--max-files N`: no new project is started once N files have been read (the
// projects in flight finish), in the listing's order, as a backfill takes them.
//   node --import tsx scripts/bench/http-baseline.ts --url URL [--concurrency 16] [--max-files N]
import { parseArgs } from 'node:util';
import { pep503Name } from '@pypi-graph/pyspec';

const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    'max-files': { type: 'string' },
  },
  strict: true,
});
if (!values.url) throw new Error('--url is required');
const base = values.url.replace(/\/+$/, '');
const concurrency = Number(values.concurrency);
const maxFiles = values['max-files'] === undefined ? Number.POSITIVE_INFINITY : Number(values['max-files']);

/** The parsed answer; undefined for a 404 (a listed project without releases, or one gone since). */
async function getJson(url: string, accept: string): Promise<unknown> {
  const res = await fetch(url, { headers: { accept, 'accept-encoding': 'gzip' } });
  if (res.status === 404) {
    await res.arrayBuffer();
    return undefined;
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

const t0 = performance.now();
const listing = (await getJson(`${base}/simple/`, SIMPLE_JSON)) as { projects: Array<{ name: string }> };
const names = listing.projects.map((p) => p.name);
let next = 0;
let files = 0;
let jsonFiles = 0;
let started = 0;
let missing = 0;
async function worker(): Promise<void> {
  while (next < names.length && files < maxFiles) {
    started++;
    const name = names[next++]!;
    const json = (await getJson(`${base}/pypi/${encodeURIComponent(name)}/json`, 'application/json')) as
      | { releases: Record<string, unknown[]> }
      | undefined;
    const simple = (await getJson(`${base}/simple/${encodeURIComponent(pep503Name(name))}/`, SIMPLE_JSON)) as
      | { files: unknown[] }
      | undefined;
    if (json === undefined || simple === undefined) {
      missing++;
      continue;
    }
    for (const list of Object.values(json.releases)) jsonFiles += list.length;
    files += simple.files.length;
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - t0) / 1000;
if (jsonFiles !== files) throw new Error(`JSON API lists ${jsonFiles} files, Simple API ${files}`);
process.stdout.write(`${JSON.stringify({ projects: started, missing, files, seconds })}\n`);
