// The crawl's HTTP work without any database: for every project of the index, GET the JSON API
// page and the PEP 691 Simple page (https://peps.python.org/pep-0691/) and parse both, with
// `--concurrency` projects in flight, as the project jobs do. Run by `pnpm bench index` as its
// own measured process; prints one JSON line: projects, files, seconds.
//   node --import tsx scripts/bench/http-baseline.ts --url URL [--concurrency 16]
import { parseArgs } from 'node:util';
import { pep503Name } from '@pypi-graph/pyspec';

const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

const { values } = parseArgs({
  options: { url: { type: 'string' }, concurrency: { type: 'string', default: '16' } },
  strict: true,
});
if (!values.url) throw new Error('--url is required');
const base = values.url.replace(/\/+$/, '');
const concurrency = Number(values.concurrency);

async function getJson(url: string, accept: string): Promise<unknown> {
  const res = await fetch(url, { headers: { accept, 'accept-encoding': 'gzip' } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

const t0 = performance.now();
const listing = (await getJson(`${base}/simple/`, SIMPLE_JSON)) as { projects: Array<{ name: string }> };
const names = listing.projects.map((p) => p.name);
let next = 0;
let files = 0;
let jsonFiles = 0;
async function worker(): Promise<void> {
  while (next < names.length) {
    const name = names[next++]!;
    const json = (await getJson(`${base}/pypi/${encodeURIComponent(name)}/json`, 'application/json')) as {
      releases: Record<string, unknown[]>;
    };
    const simple = (await getJson(
      `${base}/simple/${encodeURIComponent(pep503Name(name))}/`,
      SIMPLE_JSON,
    )) as {
      files: unknown[];
    };
    for (const list of Object.values(json.releases)) jsonFiles += list.length;
    files += simple.files.length;
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - t0) / 1000;
if (jsonFiles !== files) throw new Error(`JSON API lists ${jsonFiles} files, Simple API ${files}`);
process.stdout.write(`${JSON.stringify({ projects: names.length, files, seconds })}\n`);
