// The report: the tables, the prose read from the measurements (headroom, where scaling stops),
// and the section of docs/benchmarks.md.
import path from 'node:path';
import {
  fixed,
  int,
  type MachineFacts,
  markdownTable,
  mb,
  progress,
  REPO_ROOT,
  textTable,
  writeDocSection,
} from '../common';
import { QUIET_CPUS, QUIET_MAX_WAIT_MS, QUIET_WINDOW_MS } from './cpu';
import type { CrawlRow } from './crawl-rows';
import { WARM_UP_JOBS } from './noop';
import type { QueueRow } from './queue-rows';

export const HEADING = 'Queue and worker scaling (`pnpm bench queue`)';

export interface Report {
  command: string;
  date: string;
  machine: MachineFacts;
  postgres: string;
  redis: string;
  bullmq: string;
  revision: string;
  loadAfter: string;
  jobs: number;
  projects: number;
  filesPerProject: number;
  seed: number;
  concurrency: number;
  /** Runs of every row; the tables show the least contended run of each. */
  repeat?: number;
  /** Every run of every row. */
  queue: QueueRow[];
  crawl: CrawlRow[];
}

/** CPU seconds of everything the row runs (crawl process, workers, server, PostgreSQL, Redis). */
function oursCpuS(r: CrawlRow): number {
  return (
    r.crawl.userS +
    r.crawl.sysS +
    r.workersCpuS +
    r.serverCpuS +
    r.postgresCpuS +
    (Number.isFinite(r.redisCpuS) ? r.redisCpuS : 0)
  );
}

const othersCpuS = (r: CrawlRow) => r.crawl.machineBusyS - oursCpuS(r);
/** More than half a CPU busy with other work during the row: its seconds are inflated. */
const contended = (busyOthers: number, seconds: number) => busyOthers / seconds > 0.5;
const queueOthers = (r: QueueRow) =>
  r.machineBusyS - r.nodeCpuS - (Number.isFinite(r.redisCpuS) ? r.redisCpuS : 0);

/** "1.1–1.4 s wall, 1.6–1.9 CPU s" over the crawl rows. */
function startupRange(report: Report): string {
  const range = (xs: number[]) => {
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    return fixed(lo) === fixed(hi) ? fixed(lo) : `${fixed(lo)}–${fixed(hi)}`;
  };
  const rows = report.crawl.filter((r) => r.startup);
  if (rows.length === 0) return 'not measured';
  return (
    `${range(rows.map((r) => r.startup.wallS))} s wall, ` + `${range(rows.map((r) => r.startup.cpuS))} CPU s`
  );
}

function pct(n: number): string {
  return `${fixed(n * 100, 0)}%`;
}

function queueTable(
  report: Report,
  all: QueueRow[],
): { headers: string[]; rows: string[][]; align: Array<'l' | 'r'> } {
  const repeat = report.repeat ?? 1;
  const headers = [
    'row',
    'jobs',
    'seconds',
    'jobs/s',
    ...(repeat > 1 ? ['jobs/s, every run'] : []),
    'vs baseline',
    'node CPU s',
    'Redis CPU s',
    'Redis CPU ms per 1,000 jobs',
    "others' CPU s",
    'load (1 min) at start',
  ];
  const base = {
    add: report.queue.find((r) => r.kind === 'add' && r.baseline),
    process: report.queue.find(
      (r) => r.kind === 'process' && r.baseline && r.label.includes('concurrency 16'),
    ),
  };
  const rows = report.queue.map((r) => {
    const b = base[r.kind];
    return [
      `${r.kind === 'add' ? 'add' : 'process'}: ${r.label}`,
      int(r.jobs),
      fixed(r.seconds, 2) + (contended(queueOthers(r), r.seconds) ? ' †' : ''),
      int(r.jobs / r.seconds),
      ...(repeat > 1
        ? [
            all
              .filter((x) => x.label === r.label)
              .map((x) => int(x.jobs / x.seconds) + (contended(queueOthers(x), x.seconds) ? ' †' : ''))
              .join(' / '),
          ]
        : []),
      b && b !== r ? `${fixed(r.jobs / r.seconds / (b.jobs / b.seconds), 2)}×` : '',
      fixed(r.nodeCpuS),
      fixed(r.redisCpuS),
      fixed((r.redisCpuS / r.jobs) * 1e6, 0),
      fixed(Math.max(0, queueOthers(r))),
      fixed(r.load1, 2),
    ];
  });
  return { headers, rows, align: ['l', ...headers.slice(1).map(() => 'r' as const)] };
}

const crawlRate = (r: CrawlRow) => r.files / r.crawl.wallS;
const spanRate = (r: CrawlRow) => r.files / r.spanS;

function crawlTables(report: Report, all: CrawlRow[]) {
  const repeat = report.repeat ?? 1;
  const one = report.crawl.find((r) => r.workers === 1);
  const cpus = report.machine.cpus;
  const speed = (r: CrawlRow, f: (x: CrawlRow) => number) =>
    r.workers === 0 || !one ? '' : `${fixed(f(r) / f(one), 2)}×`;
  const throughput = {
    headers: [
      'row',
      'files',
      'seconds',
      'files/s',
      ...(repeat > 1 ? ['files/s, every run'] : []),
      'projects/s',
      'speed-up vs 1 worker',
      'first → last file stored, s',
      'files/s in that span',
      'speed-up (span)',
      'load (1 min) at start',
    ],
    rows: report.crawl.map((r) => [
      r.label,
      int(r.files),
      fixed(r.crawl.wallS) + (contended(othersCpuS(r), r.crawl.wallS) ? ' †' : ''),
      int(crawlRate(r)),
      ...(repeat > 1
        ? [
            all
              .filter((x) => x.workers === r.workers)
              .map((x) => int(crawlRate(x)) + (contended(othersCpuS(x), x.crawl.wallS) ? ' †' : ''))
              .join(' / '),
          ]
        : []),
      int(r.projects / r.crawl.wallS),
      speed(r, crawlRate),
      fixed(r.spanS),
      int(spanRate(r)),
      speed(r, spanRate),
      fixed(r.load1, 2),
    ]),
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'].slice(0, repeat > 1 ? 11 : 10) as Array<
      'l' | 'r'
    >,
  };
  const cpu = {
    headers: [
      'row',
      'crawl process',
      'workers',
      'PyPI server',
      'PostgreSQL',
      'Redis',
      'all of these',
      'per 1,000 files',
      "others' CPU s",
      `machine busy (of ${cpus} CPUs)`,
      "workers' peak RSS MB (largest)",
    ],
    rows: report.crawl.map((r) => [
      r.label,
      fixed(r.crawl.userS + r.crawl.sysS),
      r.workers === 0 ? '–' : fixed(r.workersCpuS),
      fixed(r.serverCpuS),
      fixed(r.postgresCpuS),
      r.workers === 0 ? '–' : fixed(r.redisCpuS),
      fixed(oursCpuS(r)),
      fixed((oursCpuS(r) / r.files) * 1000, 2),
      fixed(Math.max(0, othersCpuS(r))),
      pct(r.crawl.machineBusyS / (r.crawl.wallS * cpus)),
      r.workers === 0 ? '–' : mb(r.workersPeakRssKb),
    ]),
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'] as Array<'l' | 'r'>,
  };
  return { throughput, cpu };
}

/** Queue capacity against what the crawl asked of it. */
function headroom(report: Report): { text: string; rows: string[][]; headers: string[] } {
  const bullmqRows = report.crawl.filter((r) => r.workers > 0);
  const embedded = report.crawl.find((r) => r.workers === 0);
  const one = report.crawl.find((r) => r.workers === 1);
  const best = bullmqRows.reduce((a, b) => (crawlRate(b) > crawlRate(a) ? b : a), bullmqRows[0]!);
  // Project jobs per second the best crawl processed (plus one discover job per crawl).
  const need = best.projects / best.crawl.wallS;
  const needSpan = best.projects / best.spanS;
  const find = (re: RegExp) => report.queue.find((r) => re.test(r.label));
  const enqueue = find(/BullmqRunner\.enqueue/);
  const proc16 = find(/BullmqRunner` worker, no-op, concurrency 16, 1 process/);
  const proc2 = find(/2 processes/);
  const headers = [
    'queue capacity (part 1)',
    'jobs/s',
    `÷ the crawl's project jobs/s (${int(need)}, ${best.workers} worker${best.workers > 1 ? 's' : ''}, end to end)`,
    `÷ the crawl's project jobs/s in its busy span (${int(needSpan)})`,
  ];
  const rows: string[][] = [];
  for (const r of [enqueue, proc16, proc2]) {
    if (!r) continue;
    const rate = r.jobs / r.seconds;
    rows.push([r.label, int(rate), `${fixed(rate / need, 1)}×`, `${fixed(rate / needSpan, 1)}×`]);
  }
  const redisShare = best.redisCpuS / Math.max(oursCpuS(best), 1e-9);
  const text =
    `The fastest crawl (${best.workers} worker${best.workers > 1 ? 's' : ''}) processed ${int(need)} project jobs/s end to end ` +
    `(${int(needSpan)}/s between its first and last file stored), each job also enqueued once by discover; ` +
    `Redis spent ${fixed(best.redisCpuS, 1)} CPU s on it, ${pct(redisShare)} of the CPU the crawl used ` +
    `(${fixed((best.redisCpuS / best.projects) * 1e6, 0)} ms per 1,000 project jobs).` +
    (embedded && one
      ? ` Against the embedded runner (same work in one process, no Redis): 1 worker through BullMQ reaches ` +
        `${fixed(crawlRate(one) / crawlRate(embedded), 2)}× its files/s (${fixed(spanRate(one) / spanRate(embedded), 2)}× in the span) ` +
        `for ${fixed((oursCpuS(one) / one.files) * 1000, 2)} CPU s per 1,000 files in all processes, against ` +
        `${fixed((oursCpuS(embedded) / embedded.files) * 1000, 2)}.`
      : '');
  return { text, rows, headers };
}

/** Where scaling stops and why, from the measurements. */
function scalingText(report: Report): string {
  const cpus = report.machine.cpus;
  const rows = report.crawl.filter((r) => r.workers > 0).sort((a, b) => a.workers - b.workers);
  if (rows.length === 0) return '';
  const busy = (r: CrawlRow) => r.crawl.machineBusyS / (r.crawl.wallS * cpus);
  const others = (r: CrawlRow) => Math.max(0, othersCpuS(r)) / r.crawl.wallS;
  const perK = (r: CrawlRow, v: number) => fixed((v / r.files) * 1000, 2);
  const w = (n: number) => `${n} worker${n > 1 ? 's' : ''}`;
  const parts: string[] = [];
  parts.push(
    `Files/s end to end: ${rows.map((r) => `${int(crawlRate(r))} (${w(r.workers)})`).join(', ')}; ` +
      `in the span between first and last file stored: ${rows.map((r) => `${int(spanRate(r))}`).join(', ')}.`,
  );
  for (const r of rows) {
    parts.push(
      `With ${w(r.workers)} the machine was ${pct(busy(r))} busy: our processes used ${fixed(oursCpuS(r) / r.crawl.wallS, 2)} ` +
        `of the ${cpus} CPUs (per 1,000 files: workers ${perK(r, r.workersCpuS)} CPU s, PostgreSQL ${perK(r, r.postgresCpuS)}, ` +
        `PyPI server ${perK(r, r.serverCpuS)}, Redis ${perK(r, r.redisCpuS)}, crawl process ${perK(r, r.crawl.userS + r.crawl.sysS)}; ` +
        `${perK(r, oursCpuS(r))} in all), other work ${fixed(others(r), 2)}.`,
    );
  }
  const best = rows.reduce((a, b) => (crawlRate(b) > crawlRate(a) ? b : a));
  // The fewest workers within 10% of the best files/s measured: more add nothing measurable.
  const stop = rows.find((r) => crawlRate(r) >= 0.9 * crawlRate(best))!;
  const bigger = rows.filter((r) => r.workers > stop.workers);
  if (bigger.length === 0) {
    parts.push(
      `Files/s still rose by more than 10% up to ${w(stop.workers)}, the most measured: scaling had not stopped there.`,
    );
  } else {
    parts.push(
      `Scaling stops at ${w(stop.workers)}: ${stop.workers === 1 ? 'it reaches' : 'they reach'} ${pct(crawlRate(stop) / crawlRate(best))} ` +
        `of the best files/s measured (${int(crawlRate(best))}, ${w(best.workers)}); ` +
        bigger.map((r) => `${w(r.workers)} ${fixed(crawlRate(r) / crawlRate(stop), 2)}×`).join(', ') +
        ` the files/s of ${w(stop.workers)}.`,
    );
  }
  const cheapest = rows.reduce((a, b) => (oursCpuS(b) / b.files < oursCpuS(a) / a.files ? b : a));
  const perFile = oursCpuS(cheapest) / cheapest.files;
  const ceiling = cpus / perFile;
  const share = (v: number) => pct(v / oursCpuS(cheapest));
  if (busy(stop) >= 0.8) {
    const rising = rows.length > 1 && oursCpuS(rows.at(-1)!) / rows.at(-1)!.files > perFile * 1.05;
    parts.push(
      `${bigger.length === 0 ? 'What limits it' : 'Why'}: the CPUs are ${busy(stop) >= 0.95 ? 'full' : 'nearly full'} at ${w(stop.workers)} (${pct(busy(stop))} busy), and the worker processes are not ` +
        `the only ones that need them: of the ${fixed(perFile * 1000, 2)} CPU s per 1,000 files the whole crawl costs ` +
        `(${w(cheapest.workers)}, the cheapest row), the workers take ${share(cheapest.workersCpuS)}, PostgreSQL ` +
        `${share(cheapest.postgresCpuS)}, the PyPI server ${share(cheapest.serverCpuS)}, Redis ${share(cheapest.redisCpuS)} and ` +
        `the crawl process ${share(cheapest.crawl.userS + cheapest.crawl.sysS)}. Another worker can only take CPU time from ` +
        'PostgreSQL and the server it waits on' +
        (rising
          ? `, and more processes cost more CPU per file: ${rows.map((r) => perK(r, oursCpuS(r))).join(' → ')} CPU s per ` +
            `1,000 files in all, of which the workers ${rows.map((r) => perK(r, r.workersCpuS)).join(' → ')} and PostgreSQL ` +
            `${rows.map((r) => perK(r, r.postgresCpuS)).join(' → ')} (likely causes, not measured apart: each worker ` +
            'process warms up its own JIT on its share of the jobs and opens its own pool of PostgreSQL connections, and ' +
            `W × ${report.concurrency} jobs in flight contend in PostgreSQL).`
          : '.') +
        ` On ${cpus} CPUs with nothing else running, that cost caps the crawl at about ${int(ceiling)} files/s; ` +
        `the best row reached ${int(crawlRate(best))} end to end and ${int(spanRate(best))} in its span ` +
        `(${pct(crawlRate(best) / ceiling)} and ${pct(spanRate(best) / ceiling)} of that). More workers pay off only ` +
        'with more CPUs, or with PostgreSQL and the index on other machines (for pypi.org, the index is remote and its ' +
        'rate limit, HTTP_RPS_PER_HOST, decides long before this).',
    );
  } else {
    parts.push(
      `The machine was only ${pct(busy(stop))} busy at ${w(stop.workers)}: the limit there is not CPU but waiting ` +
        `(round trips to the server, PostgreSQL and Redis per job, with ${report.concurrency} jobs in flight per worker).`,
    );
  }
  const shared = rows.filter((r) => contended(othersCpuS(r), r.crawl.wallS));
  if (shared.length > 0) {
    parts.push(
      `Caution: ${shared.map((r) => w(r.workers)).join(', ')} shared the CPUs with other work on the machine ` +
        `(${shared.map((r) => fixed(others(r), 2)).join(', ')} CPUs), which lowers their files/s: ratios between rows ` +
        'are less certain than the CPU seconds per file.',
    );
  }
  return parts.join(' ');
}

/** Other work's CPUs per second of the row: what decides which run of a row is shown. */
const queueContention = (r: QueueRow) => Math.max(0, queueOthers(r)) / r.seconds;
const crawlContention = (r: CrawlRow) => Math.max(0, othersCpuS(r)) / r.crawl.wallS;

/** Of the runs of each row (same key), the one that shared the machine least with other work. */
function leastContended<T>(rows: T[], key: (r: T) => string, contention: (r: T) => number): T[] {
  const best = new Map<string, T>();
  for (const r of rows) {
    const k = key(r);
    const b = best.get(k);
    if (!b || contention(r) < contention(b)) best.set(k, r);
  }
  return [...best.values()];
}

/** The report as the tables show it: one run per row, with every run's rate beside it. */
function chosenView(report: Report): { view: Report; allQueue: Report['queue']; allCrawl: Report['crawl'] } {
  const queue = leastContended(report.queue, (r) => r.label, queueContention);
  const crawl = leastContended(report.crawl, (r) => String(r.workers), crawlContention).sort(
    (a, b) => a.workers - b.workers,
  );
  return { view: { ...report, queue, crawl }, allQueue: report.queue, allCrawl: report.crawl };
}

export async function publish(full: Report, values: { doc: string; 'no-doc': boolean }): Promise<number> {
  const { view: report, allQueue, allCrawl } = chosenView(full);
  const repeat = full.repeat ?? 1;
  const { machine } = report;
  const date = new Date(report.date);
  const q = queueTable(report, allQueue);
  const c = crawlTables(report, allCrawl);
  const h = headroom(report);
  const scaling = scalingText(report);
  const files = report.projects * report.filesPerProject;
  const anyContended =
    allQueue.some((r) => contended(queueOthers(r), r.seconds)) ||
    allCrawl.some((r) => contended(othersCpuS(r), r.crawl.wallS));

  const out: string[] = [`## ${HEADING}`, ''];
  out.push(
    `\`${report.command}\` — ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GiB RAM, ${machine.kernel}, ` +
      `Node ${machine.node}, ${report.redis}, BullMQ ${report.bullmq}, ${report.postgres}; code at ${report.revision}; ` +
      `load average ${machine.loadAverage} before, ${report.loadAfter} after (other work on the machine counts` +
      `${anyContended ? '; † marks rows and runs during which it kept more than half a CPU busy: their seconds are inflated' : ''}).` +
      (repeat > 1
        ? ` Every row ran ${repeat} times (the crawl's rows in ascending order of W, then descending, and so on); the ` +
          'tables show for each row the run during which other work on the machine used the least CPU, with the rate of ' +
          'every run beside it.'
        : '') +
      ` Before each row the bench waits until the whole machine has used less than ${QUIET_CPUS} CPUs for ` +
      `${QUIET_WINDOW_MS / 1000} s (at most ${QUIET_MAX_WAIT_MS.queue / 1000} s for a queue row, ` +
      `${QUIET_MAX_WAIT_MS.crawl / 1000} s for a crawl row; then it runs anyway).`,
    '',
    '### The queue alone',
    '',
    `Each row uses a fresh Redis key prefix (deleted afterwards) and ${int(report.jobs)} jobs shaped as the crawl's: queue ` +
      '`project`, its payload and job id, priority 10 (backfill: BullMQ keeps them in its prioritized set), ' +
      '`removeOnComplete`. Adding rows: jobs added from this process, each call awaited before the next (as discover ' +
      'enqueues), except `addBulk`. Processing rows: the queue is filled and paused, the workers start and connect, then ' +
      'it is resumed; seconds run from the resume until no job is waiting or active (polled every 20 ms); the processor ' +
      `only counts the job. Before the rows, ${int(WARM_UP_JOBS)} jobs run untimed through a bare \`Worker\` and a ` +
      '`BullmqRunner` in this process and in each worker process of the last row, so that every row runs warm code. ' +
      "`BullmqRunner` rows go through pypi-graph's own path (packages/pipeline): payload check, " +
      '`getJob` + `add` on enqueue; payload check, metrics and a child logger per job when processing. node CPU s is ' +
      "this process's (or the worker processes'), Redis CPU s the redis-server process's (/proc), others' CPU s the " +
      'rest of the machine meanwhile (/proc/stat). "vs baseline" compares with raw BullMQ (`addBulk`; a bare `Worker` ' +
      'at concurrency 16).',
    '',
    markdownTable(q.headers, q.rows, q.align),
    '',
    '### Crawl with 1, 2, 4 worker processes',
    '',
    `The synthetic index (\`pnpm pypi-server --synthetic projects=${report.projects},files-per-project=${report.filesPerProject},seed=${report.seed}\`: ` +
      `${int(files)} files, its own process, started afresh for each row) is crawled into a new PostgreSQL database per row ` +
      '(created, then `migrate` once), with a new Redis key prefix per row. W `pnpm worker` processes are started and ' +
      'waited for (connected to the `discover` and `project` queues), then `crawl --all --no-work` enqueues discover and ' +
      'waits for the queues to drain; the baseline row is `crawl --all` with the embedded runner (no `REDIS_URL`, one ' +
      `process). Every process: \`WHEEL_METADATA=off SDIST_EXTRACTION=off HTTP_RPS_PER_HOST=0 XMLRPC_RPS=1000 ` +
      `PROJECT_CONCURRENCY=${report.concurrency} LOG_LEVEL=warn CI=1\` — the file index alone; each worker runs up to ` +
      `${report.concurrency} project jobs at once, so W workers have W × ${report.concurrency} in flight. Seconds are the ` +
      "wall time of the `crawl` process from start to exit (its start-up and the drain's last idle polls included; a " +
      `command's start-up alone, \`migrate\` with nothing to do, measured in each row: ${startupRange(report)}); ` +
      '"first → last file stored" is the span of the files\' `first_seen_at` in the database (the ' +
      'steady part, without start-up). Every row is checked: the crawl reports no failure and its files added, and the ' +
      `database holds, exactly the index's ${int(files)} files (the bench fails otherwise).`,
    '',
    markdownTable(c.throughput.headers, c.throughput.rows, c.throughput.align),
    '',
    "CPU seconds spent while the `crawl` process ran, per process (/proc: user + system): the workers', the PyPI " +
      "server's, PostgreSQL's (the backends of the row's database, sampled every 100 ms, plus the server's own " +
      "processes: WAL writer, checkpointer, background writer), Redis's (the redis-server process, which also serves " +
      "whatever else uses this Redis); others' CPU s is the rest of the machine (/proc/stat); machine busy = all CPU " +
      'time ÷ (seconds × CPUs). "load (1 min) at start" in both parts is the kernel\'s 1-minute load average, which ' +
      "lags: it still counts work that ended shortly before, the previous row's included.",
    '',
    markdownTable(c.cpu.headers, c.cpu.rows, c.cpu.align),
    '',
    '### Headroom: queue capacity against what the crawl needs',
    '',
    markdownTable(h.headers, h.rows, ['l', 'r', 'r', 'r']),
    '',
    h.text,
    '',
    '### Where scaling stops',
    '',
    scaling,
    '',
  );

  const text = [
    'The queue alone',
    textTable(q.headers, q.rows, q.align),
    '',
    'Crawl',
    textTable(c.throughput.headers, c.throughput.rows, c.throughput.align),
    '',
    textTable(c.cpu.headers, c.cpu.rows, c.cpu.align),
    '',
    textTable(h.headers, h.rows, ['l', 'r', 'r', 'r']),
    '',
    h.text,
    '',
    scaling,
    '',
  ];
  process.stdout.write(`${text.join('\n')}\n`);
  if (!values['no-doc']) {
    const doc = path.resolve(REPO_ROOT, values.doc);
    await writeDocSection(doc, HEADING, out.join('\n'));
    progress(`wrote "## ${HEADING}" in ${path.relative(REPO_ROOT, doc)}`);
  }
  return 0;
}
