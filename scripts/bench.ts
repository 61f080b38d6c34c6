// pnpm bench <name> [options]: runs one benchmark and writes its section of docs/benchmarks.md.
// Speed and memory targets are measured here, never as timed unit tests; every benchmark compares
// against a baseline measured in the same run and reports ratios. Each benchmark lives in
// scripts/bench/<name>.ts and exports `run(args)`; add one by adding a line below.

interface Benchmark {
  summary: string;
  load(): Promise<{ run(args: string[]): Promise<number> }>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  index: {
    summary: 'synthetic index crawled into PostgreSQL and PGlite, then snapshotted (files/s, peak RSS)',
    load: () => import('./bench/index'),
  },
  wheels: {
    summary: "a wheel's METADATA by PEP 658, range reads and download, 5 KB to 120 MB (requests, bytes)",
    load: () => import('./bench/wheels'),
  },
  zip: {
    summary:
      "packages/archive's zip reader vs. yauzl over the same HTTP range reads (requests, bytes) and hostile archives",
    load: () => import('./bench/zip'),
  },
  sdist: {
    summary: 'setup.py sandbox vs. one run per Python, static methods, CPU floor, Nix cache (sdists/min)',
    load: () => import('./bench/sdist'),
  },
  queue: {
    summary:
      'jobs/s through BullMQ with a no-op processor; the crawl with 1, 2, 4 worker processes (files/s, CPU)',
    load: () => import('./bench/queue'),
  },
  'redis-window': {
    summary:
      "Redis's memory and the crawl's RSS during a backfill at three sizes, with QUEUE_WINDOW and without (baseline)",
    load: () => import('./bench/redis-window'),
  },
  backfill: {
    summary:
      "a backfill of the PyPI-shaped index at PyPI's size as far as the time allows: files/s, CPU per 1,000 files and RSS per stretch",
    load: () => import('./bench/backfill'),
  },
  'pypi-server': {
    summary:
      "the local PyPI server's PyPI-shaped preset at 1 %, 10 %, 100 %: start time, RSS while a client walks it",
    load: () => import('./bench/pypi-server'),
  },
  scale: {
    summary:
      "PyPI's size: bulk load, table sizes, EXPLAIN of hot queries, full and incremental snapshot, status (files/s, CPU, RSS)",
    load: () => import('./bench/scale'),
  },
  'project-peak': {
    summary:
      "one project job's peak RSS against the project's size (up to the PyPI-shaped index's largest), vs. older code",
    load: () => import('./bench/project-peak'),
  },
  refresh: {
    summary:
      "one day's refresh of the PyPI-shaped index: requests per changed project, XML-RPC calls, seconds, vs. crawling them afresh",
    load: () => import('./bench/refresh'),
  },
  'sdist-accuracy': {
    summary: "sdists' extracted dependencies vs. the METADATA of a wheel built from them (agreement rate)",
    load: () => import('./bench/sdist-accuracy'),
  },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(10)} ${b.summary}`);
  return [
    'usage: pnpm bench <name> [options]   (pnpm bench <name> --help for its options)',
    '',
    ...names,
  ].join('\n');
}

async function main(): Promise<number> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const bench = BENCHMARKS[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark "${name}"\n${usage()}\n`);
    return 2;
  }
  return (await bench.load()).run(args);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
