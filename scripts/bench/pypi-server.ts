// pnpm bench pypi-server: the local PyPI server's PyPI-shaped preset (`--synthetic pypi,scale=F`)
// at several sizes — start time, memory at start and while a client walks it like a crawler
// (the listing, a changelog page, many projects' JSON and Simple pages and their wheels' PEP 658
// files, the /simple/ index, one day advanced). Memory is the server process's own VmRSS and
// VmHWM (/proc/<pid>/status). Baselines in the same run: the same server with a one-project
// index (what Node, tsx and the modules cost), and the in-memory synthetic index with as many
// files as the smallest preset.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type PresetCensus, presetCensus } from '@pypi-graph/pypi-server';
import {
  cpuSecondsOf,
  fixed,
  gitRevision,
  int,
  loadAverage,
  type MachineFacts,
  machineBusySeconds,
  machineFacts,
  markdownTable,
  progress,
  REPO_ROOT,
  startServer,
  textTable,
  writeDocSection,
  xmlrpc,
} from './common';

const HEADING = 'PyPI-shaped index server';

const USAGE = `usage: pnpm bench pypi-server [--scales 0.01,0.1,1] [--walk 2000] [--concurrency 8] [--seed 1]
                              [--doc docs/benchmarks.md] [--no-doc] [--json FILE] [--from-json FILE]

  --scales       preset sizes (1 = PyPI: about 737,000 projects and 11.6 million files)
  --walk         projects the client reads at each size (JSON API, Simple page, wheels' .metadata)
  --concurrency  requests in flight
  --doc          where the "## ${HEADING}" section is written; --no-doc prints only
  --json FILE    every measurement as JSON; --from-json FILE writes the section from such a file`;

interface Memory {
  rssMb: number;
  hwmMb: number;
}

interface Walk {
  projects: number;
  files: number;
  metadata: number;
  seconds: number;
  serverCpuS: number;
  listingMb: number;
  listingS: number;
  changelogS: number;
  simpleIndexMb: number;
  simpleIndexS: number;
}

interface ScaleResult {
  label: string;
  spec: string;
  census?: PresetCensus;
  startS: number;
  startCpuS: number;
  atStart: Memory;
  walk: Walk;
  advance?: { seconds: number; events: number; projects: number };
  peak: Memory;
  /** CPU seconds the rest of the machine used while this size was measured. */
  othersCpuS: number;
  wallS: number;
}

interface Report {
  command: string;
  date: string;
  machine: MachineFacts;
  revision: string;
  loadAfter: string;
  walk: number;
  concurrency: number;
  results: ScaleResult[];
}

async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Reads the index the way a crawler does, and measures the server meanwhile. */
async function walkServer(url: string, pid: number, count: number, concurrency: number): Promise<Walk> {
  let t = performance.now();
  const last = Number(/<int>(\d+)<\/int>/.exec(await xmlrpc(url, 'changelog_last_serial'))?.[1] ?? 0);
  const listing = await xmlrpc(url, 'list_packages_with_serial');
  const listingS = seconds(t);
  const names = [...listing.matchAll(/<name>([^<]+)<\/name>/g)].map((m) => m[1]!);
  t = performance.now();
  await xmlrpc(
    url,
    'changelog_since_serial',
    `<param><value><int>${Math.max(0, last - 50_000)}</int></value></param>`,
  );
  const changelogS = seconds(t);

  const step = Math.max(1, Math.floor(names.length / count));
  const chosen = names.filter((_, i) => i % step === 0).slice(0, count);
  let next = 0;
  let files = 0;
  let metadata = 0;
  const cpu0 = cpuSecondsOf(pid);
  t = performance.now();
  const worker = async () => {
    while (next < chosen.length) {
      const name = chosen[next++]!.replace(/[-_.]+/g, '-').toLowerCase();
      const json = await fetch(`${url}/pypi/${name}/json`);
      const body =
        json.status === 200
          ? ((await json.json()) as { urls: Array<{ url: string; packagetype: string }> })
          : undefined;
      if (!body) await json.arrayBuffer();
      const simple = await fetch(`${url}/simple/${name}/`, {
        headers: { Accept: 'application/vnd.pypi.simple.v1+json' },
      });
      files += ((await simple.json()) as { files: unknown[] }).files.length;
      for (const f of body?.urls ?? []) {
        if (f.packagetype !== 'bdist_wheel') continue;
        const meta = await fetch(`${f.url}.metadata`);
        if (meta.status !== 200) throw new Error(`${f.url}.metadata: ${meta.status}`);
        await meta.arrayBuffer();
        metadata++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const walkS = seconds(t);
  const serverCpuS = cpuSecondsOf(pid) - cpu0;
  t = performance.now();
  const index = await (
    await fetch(`${url}/simple/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })
  ).text();
  return {
    projects: chosen.length,
    files,
    metadata,
    seconds: walkS,
    serverCpuS,
    listingMb: listing.length / 1e6,
    listingS,
    changelogS,
    simpleIndexMb: index.length / 1e6,
    simpleIndexS: seconds(t),
  };
}

async function measureScale(
  label: string,
  spec: string,
  options: { walk: number; concurrency: number; preset: boolean },
): Promise<ScaleResult> {
  progress(`${label}: starting the server (--synthetic ${spec}) …`);
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const server = await startServer(spec);
  try {
    const startS = seconds(t0);
    const startCpuS = cpuSecondsOf(server.pid);
    const atStart = await memoryOf(server.pid);
    progress(
      `${label}: ready in ${fixed(startS)} s (${fixed(startCpuS)} CPU s), RSS ${fixed(atStart.rssMb, 0)} MB; walking …`,
    );
    let hwm = atStart.hwmMb;
    const sampler = setInterval(() => {
      memoryOf(server.pid).then(
        (m) => {
          hwm = Math.max(hwm, m.hwmMb);
        },
        () => {},
      );
    }, 250);
    let walk: Walk;
    let advance: ScaleResult['advance'];
    try {
      walk = await walkServer(server.url, server.pid, options.walk, options.concurrency);
      if (options.preset) {
        const t = performance.now();
        const res = await fetch(`${server.url}/_admin/advance-day`, { method: 'POST' });
        const day = (await res.json()) as { events: number; projects: number };
        advance = { seconds: seconds(t), events: day.events, projects: day.projects };
      }
    } finally {
      clearInterval(sampler);
    }
    const peak = await memoryOf(server.pid);
    peak.hwmMb = Math.max(peak.hwmMb, hwm);
    const wallS = seconds(t0);
    const cpu = cpuSecondsOf(server.pid);
    progress(
      `${label}: walked ${int(walk.projects)} projects (${int(walk.files)} files) in ${fixed(walk.seconds)} s; ` +
        `peak RSS ${fixed(peak.hwmMb, 0)} MB`,
    );
    return {
      label,
      spec,
      startS,
      startCpuS,
      atStart,
      walk,
      advance,
      peak,
      othersCpuS: machineBusySeconds() - busy0 - cpu,
      wallS,
    };
  } finally {
    await server.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      scales: { type: 'string', default: '0.01,0.1,1' },
      walk: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      json: { type: 'string' },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values['from-json']) {
    return publish(JSON.parse(await readFile(values['from-json'], 'utf8')) as Report, values);
  }
  const scales = values.scales.split(',').map((s) => Number(s.trim()));
  if (scales.some((s) => !(s > 0 && s <= 4)))
    throw new Error(`--scales: "${values.scales}" is not a list in (0, 4]`);
  const walk = Number(values.walk);
  const concurrency = Number(values.concurrency);
  const seed = Number(values.seed);
  if (!(walk >= 1 && concurrency >= 1 && Number.isInteger(seed)))
    throw new Error('--walk, --concurrency, --seed');
  const machine = machineFacts();
  const date = new Date();
  const results: ScaleResult[] = [];

  // Baselines: Node + tsx + the server's modules with a one-project index; then the in-memory
  // synthetic index holding as many files as the smallest preset serves.
  results.push(
    await measureScale('baseline: 1-project index', 'projects=1,files-per-project=1', {
      walk: 1,
      concurrency: 1,
      preset: false,
    }),
  );
  // Held whole, it takes minutes and gigabytes beyond a few hundred thousand files: only then.
  const smallest = presetCensus(`pypi,scale=${Math.min(...scales)},seed=${seed}`);
  if (smallest.files <= 300_000) {
    const eagerSpec = `projects=${Math.ceil(smallest.files / 15)},files-per-project=15,seed=${seed}`;
    results.push(
      await measureScale(`baseline: in-memory index of ${int(smallest.files)} files`, eagerSpec, {
        walk,
        concurrency,
        preset: false,
      }),
    );
  }
  for (const scale of scales) {
    const spec = `pypi,scale=${scale},seed=${seed}`;
    progress(`census of ${spec} …`);
    const census = presetCensus(spec);
    const r = await measureScale(`preset, scale ${scale}`, spec, { walk, concurrency, preset: true });
    results.push({ ...r, census });
  }
  const report: Report = {
    command: ['pnpm bench pypi-server', ...args].join(' '),
    date: date.toISOString(),
    machine,
    revision: gitRevision(),
    loadAfter: loadAverage(),
    walk,
    concurrency,
    results,
  };
  const dump = path.resolve(
    values.json ?? path.join(os.tmpdir(), `pypi-graph-bench-pypi-server-${Date.now()}.json`),
  );
  await writeFile(dump, `${JSON.stringify(report, null, 1)}\n`);
  progress(`measurements in ${dump}`);
  return publish(report, values);
}

const HEADERS = [
  'index',
  'projects',
  'files',
  'start s',
  'start CPU s',
  'RSS at start MB',
  'peak RSS MB',
  'walk: projects / files',
  'walk s',
  'server CPU ms per 1,000 files',
  "others' CPU s",
];
const ALIGN: Array<'l' | 'r'> = ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'];

function rows(report: Report): string[][] {
  return report.results.map((r) => [
    r.label,
    r.census ? int(r.census.projects) : '',
    r.census ? int(r.census.files) : '',
    fixed(r.startS),
    fixed(r.startCpuS),
    fixed(r.atStart.rssMb, 0),
    fixed(r.peak.hwmMb, 0),
    `${int(r.walk.projects)} / ${int(r.walk.files)}`,
    fixed(r.walk.seconds),
    r.walk.files >= 100 ? fixed((r.walk.serverCpuS / r.walk.files) * 1e6, 0) : '–',
    fixed(Math.max(0, r.othersCpuS)),
  ]);
}

async function publish(report: Report, values: { doc: string; 'no-doc': boolean }): Promise<number> {
  const m = report.machine;
  const presets = report.results.filter((r) => r.census);
  const out: string[] = [
    `## ${HEADING}`,
    '',
    `\`${report.command}\` — ${report.date.slice(0, 16).replace('T', ' ')} UTC, ${m.cpus} CPUs (${m.cpuModel}), ` +
      `${m.memoryGb} GiB RAM, ${m.kernel}, Node ${m.node}; code at ${report.revision}; load average ` +
      `${m.loadAverage} before, ${report.loadAfter} after (other work on the machine counts: see "others' CPU s").`,
    '',
    '`pnpm pypi-server --synthetic pypi,scale=F` (its own `node --import tsx` process, `--log-level warn`) is ' +
      'started, then read by a client the way the crawler reads it: `list_packages_with_serial`, a full ' +
      `\`changelog_since_serial\` page, ${int(report.walk)} projects spread over the listing (JSON API, PEP 691 Simple ` +
      `page, the PEP 658 \`.metadata\` of every wheel of the latest release; ${report.concurrency} in flight), ` +
      'the `/simple/` index, and one day advanced. "walk s" and the server CPU per 1,000 files are those of the projects\' ' +
      'pages and `.metadata` files alone. "start s" is from spawning to the ready line, "start CPU s" the ' +
      "server's CPU until then (planning every project's timeline: what scales with the index), RSS at start its " +
      'VmRSS then, peak RSS its VmHWM at the end (/proc/<pid>/status). Baselines, same run: the same server with a one-project index (Node, tsx ' +
      "and the server's modules), and the in-memory synthetic index (`--synthetic projects=N,files-per-project=15`) " +
      'holding as many files as the smallest preset — held whole, built at start.',
    '',
    markdownTable(HEADERS, rows(report), ALIGN),
    '',
  ];
  const detail = presets.map((r) => {
    const c = r.census!;
    return [
      String(c.scale),
      int(c.journalRows),
      `${int(c.lastDays.rowsPerDay)} / ${int(c.lastDays.fileEventsPerDay)} / ${int(c.lastDays.projectsPerDay)}`,
      `${fixed(r.walk.listingMb)} MB in ${fixed(r.walk.listingS)} s`,
      fixed(r.walk.changelogS),
      `${fixed(r.walk.simpleIndexMb)} MB in ${fixed(r.walk.simpleIndexS)} s`,
      r.advance
        ? `${fixed(r.advance.seconds, 2)} s: ${int(r.advance.events)} rows, ${int(r.advance.projects)} projects`
        : '',
    ];
  });
  const detailHeaders = [
    'scale',
    'journal rows',
    'rows / file events / projects per day (last 30 days)',
    'list_packages_with_serial',
    'changelog page (50,000 rows) s',
    '/simple/ (JSON)',
    'advance one day',
  ];
  out.push(markdownTable(detailHeaders, detail, ['l', 'r', 'r', 'r', 'r', 'r', 'r']), '');
  const floor = report.results.find((r) => r.spec.startsWith('projects=1,'));
  const eager = report.results.find((r) => r.label.startsWith('baseline: in-memory'));
  if (presets.length > 0 && floor) {
    const parts = presets.map(
      (r) =>
        `at ${int(r.census!.files)} files ${fixed(r.startCpuS - floor.startCpuS)} CPU s and ` +
        `${fixed(r.atStart.rssMb - floor.atStart.rssMb, 0)} MB at start, ${fixed(r.peak.hwmMb - floor.atStart.rssMb, 0)} MB at the peak`,
    );
    out.push(
      `Over the one-project baseline (${fixed(floor.atStart.rssMb, 0)} MB, ${fixed(floor.startCpuS)} CPU s), the preset costs ` +
        `${parts.join('; ')}: it grows with the index by its journal (8 bytes per project-day) and the size of ` +
        'the largest pages, not by what it serves.' +
        (eager
          ? ` The in-memory index costs ${fixed(eager.atStart.rssMb - floor.atStart.rssMb, 0)} MB at start for ` +
            `${eager.label.replace(/^baseline: in-memory index of /, '')}, and grows with them.`
          : ''),
      '',
    );
  }
  process.stdout.write(
    `${textTable(HEADERS, rows(report), ALIGN)}\n\n${textTable(detailHeaders, detail, ['l', 'r', 'r', 'r', 'r', 'r', 'r'])}\n`,
  );
  if (!values['no-doc']) {
    const doc = path.resolve(REPO_ROOT, values.doc);
    await writeDocSection(doc, HEADING, out.join('\n'));
    progress(`wrote "## ${HEADING}" in ${path.relative(REPO_ROOT, doc)}`);
  }
  return 0;
}
