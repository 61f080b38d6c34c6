// pnpm bench sdist: sdist dependency extraction (docs/architecture.md §3, issue 4 §6), all rows in one run:
// (1) the naive baseline, one sandbox run per sdist per Python version, one after another;
// (2) pypi-graph's setup.py path, one derivation per sdist with the nine interpreters
//     (`runSandbox` defaults), sdists `SDIST_CONCURRENCY` at a time (1, and the others asked);
// (3) the static methods first (`readSdistStaticMetadata`), the sandbox only for needs-setup-py;
// (4) the floor: the interpreters' own CPU time (extract.py run directly on the host) ÷ the cores;
// (5) (2) again on the same bytes: Nix cache hits.
// The corpus is generated here (scripts/bench/sdist-corpus.py, deterministic) and salted with a
// per-run random token in a setup.py comment, one salt per cold row, so no cold row hits the Nix
// cache of an earlier run or row; (1), (2) at concurrency 1 and (5) share the same bytes (their
// derivations differ by the interpreter set, so (1) does not warm (2)). When the first concurrency
// is 1, (1) and (2) run interleaved sdist by sdist, so that the load other work puts on the machine
// weighs on both alike.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import {
  DEFAULT_SANDBOX_LIMITS,
  readSdistStaticMetadata,
  runSandbox,
  type SandboxPhases,
  type SandboxResult,
} from '@pypi-graph/extractor';
import { PYTHON_KEYS, type PythonKey } from '@pypi-graph/model';
import {
  fixed,
  generateSdists,
  gitRevision,
  loadAverage,
  machineFacts,
  markdownTable,
  pool,
  progress,
  REPO_ROOT,
  type SandboxResults,
  SDIST_CORPUS_PY,
  sandboxOutcome,
  stableJson,
  textTable,
  writeDocSection,
} from './common';

const HEADING = 'Sdist extraction';
const EXTRACT_PY = path.join(REPO_ROOT, 'nix', 'extractor', 'extract.py');
const execFileP = promisify(execFile);

const USAGE = `usage: pnpm bench sdist --real …     real-shaped archives vs. the seed's approach (--real --help)
       pnpm bench sdist [--count 30] [--baseline-count 10] [--concurrency 1,2]
                        [--doc docs/benchmarks.md] [--no-doc] [--keep]

  --count           sdists in the generated corpus (10 styles, 3 of them with static metadata)
  --baseline-count  sdists the naive baseline runs (the first N: every style once when N ≥ 10);
                    0 = all. Its sdists/minute is measured on them; its time for the whole
                    corpus is extrapolated linearly (N → count)
  --concurrency     SDIST_CONCURRENCY values for row (2); the first is also used by (3) and (5)
  --doc / --no-doc  where the "## ${HEADING}" section is written / print only
  --keep            keep the temporary folder of sdists`;

interface CorpusEntry {
  filename: string;
  style: string;
  static: boolean;
  file: string;
  sha256: string;
}

const generate = (folder: string, count: number, salt: string) =>
  generateSdists<Omit<CorpusEntry, 'file' | 'sha256'>>('gen', folder, count, salt);

/** Per-sdist phase split of pypi-graph's runs (runSandbox's `phases`), for the phase table. */
const phaseLog: Array<{ filename: string; phases: SandboxPhases }> = [];

function phaseRows(): { headers: string[]; body: string[][] } {
  const headers = [
    'sdist',
    'hash',
    'add-fixed',
    'eval (batch)',
    'realise',
    'unpack',
    'views',
    'interpreters (wall max)',
    'interp. CPU',
    'parse',
  ];
  const ms = (v: number | undefined) => (v === undefined ? '–' : fixed(v / 1000, 2));
  const body = phaseLog.map(({ filename, phases: p }) => [
    filename,
    ms(p.hashMs),
    ms(p.addFixedMs),
    `${ms(p.evalMs)} (${p.evalBatch})`,
    ms(p.buildMs),
    ms(p.driver?.unpackMs),
    ms(p.driver?.viewMs),
    ms(p.driver ? Math.max(0, ...Object.values(p.driver.interpretersMs)) : undefined),
    ms(p.driver?.interpreterCpuMs),
    ms(p.parseMs),
  ]);
  return { headers, body };
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

interface Row {
  label: string;
  sdists: number;
  interpreterRuns: number;
  seconds: number;
  /** Seconds measured on a subset, extrapolated to the corpus. */
  extrapolated?: { measuredSdists: number; measuredSeconds: number };
  note?: string;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--real')) {
    const real = await import('./sdist-real');
    return real.run(argv.filter((a) => a !== '--real'));
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '30' },
      'baseline-count': { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '1,2' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const count = Number(values.count);
  const baselineCount = Number(values['baseline-count']) || count;
  const concurrencies = values.concurrency.split(',').map(Number);
  const c0 = concurrencies[0]!;
  const cores = machineFacts().cpus;
  const loadBefore = loadAverage();
  const started = new Date();
  const tmp = await (await import('node:fs/promises')).mkdtemp(path.join(os.tmpdir(), 'bench-sdist-'));
  const token = randomBytes(8).toString('hex');
  progress(`corpus: ${count} sdists, salt ${token}, in ${tmp}`);
  const corpusA = await generate(path.join(tmp, 'a'), count, `${token}-a`);
  const extra = new Map<number, CorpusEntry[]>();
  for (const c of concurrencies.slice(1))
    extra.set(c, await generate(path.join(tmp, `c${c}`), count, `${token}-c${c}`));
  const corpusS = await generate(path.join(tmp, 's'), count, `${token}-s`);

  const rows: Row[] = [];
  const mismatches: string[] = [];

  // (1) naive baseline and (2) at the first concurrency. When that is 1, they run interleaved,
  // sdist by sdist (the baseline's runs for sdist i, then pypi-graph's run of it), so both meet the
  // same load: other work on the machine comes and goes by the minute.
  const subset = corpusA.slice(0, baselineCount);
  const baseline = new Map<string, SandboxResults>();
  const full = new Map<string, SandboxResults>();
  const byIndex = new Map<number, SandboxResults[]>();
  const runBaseline = async (e: CorpusEntry) => {
    const r: SandboxResults = {};
    for (const key of PYTHON_KEYS) {
      const out = await runSandbox({
        sdistPath: e.file,
        sha256: e.sha256,
        filename: e.filename,
        pythons: [key],
      });
      r[key] = out.results[key];
    }
    baseline.set(e.filename, r);
  };
  const runAll = async (corpus: CorpusEntry[], concurrency: number, into?: Map<string, SandboxResults>) => {
    const start = process.hrtime.bigint();
    const results: SandboxResults[] = new Array(corpus.length);
    await pool(
      corpus.map((e, i) => ({ e, i })),
      concurrency,
      async ({ e, i }) => {
        const out = await runSandbox({ sdistPath: e.file, sha256: e.sha256, filename: e.filename });
        results[i] = out.results;
        into?.set(e.filename, out.results);
      },
    );
    return { secs: seconds(start), results };
  };
  const interleaved = c0 === 1;
  let baseSeconds = 0;
  let c0Seconds = 0;
  /** (2)'s seconds on the baseline's sdists alone (interleaved runs). */
  let pairedSeconds = 0;
  let t0 = process.hrtime.bigint();
  if (interleaved) {
    progress(
      `(1)+(2) interleaved: ${subset.length} sdists × ${PYTHON_KEYS.length} separate sandbox runs, and ${count} sdists with 9 interpreters per derivation, SDIST_CONCURRENCY=1`,
    );
    const results: SandboxResults[] = new Array(corpusA.length);
    for (const [i, e] of corpusA.entries()) {
      if (i < subset.length) {
        t0 = process.hrtime.bigint();
        await runBaseline(e);
        baseSeconds += seconds(t0);
      }
      t0 = process.hrtime.bigint();
      const out = await runSandbox({ sdistPath: e.file, sha256: e.sha256, filename: e.filename });
      const secs = seconds(t0);
      phaseLog.push({ filename: e.filename, phases: out.phases });
      c0Seconds += secs;
      if (i < subset.length) pairedSeconds += secs;
      results[i] = out.results;
      full.set(e.filename, out.results);
    }
    byIndex.set(c0, results);
  } else {
    progress(`(1) baseline: ${subset.length} sdists × ${PYTHON_KEYS.length} separate sandbox runs`);
    for (const e of subset) await runBaseline(e);
    baseSeconds = seconds(t0);
  }
  rows.push({
    label: '(1) naive baseline: one sandbox run per sdist per Python, sequential',
    sdists: count,
    interpreterRuns: count * PYTHON_KEYS.length,
    seconds: (baseSeconds * count) / subset.length,
    extrapolated:
      subset.length < count ? { measuredSdists: subset.length, measuredSeconds: baseSeconds } : undefined,
  });

  // (2) pypi-graph's path
  for (const c of concurrencies) {
    let secs: number;
    if (c === c0 && interleaved) {
      secs = c0Seconds;
    } else {
      const corpus = c === c0 ? corpusA : extra.get(c)!;
      progress(`(2) pypi-graph: ${count} sdists, 9 interpreters per derivation, SDIST_CONCURRENCY=${c}`);
      const run = await runAll(corpus, c, c === c0 ? full : undefined);
      secs = run.secs;
      byIndex.set(c, run.results);
    }
    rows.push({
      label: `(2) pypi-graph setup.py path: 9 interpreters per derivation (parallelism ${DEFAULT_SANDBOX_LIMITS.parallelism}), SDIST_CONCURRENCY=${c}`,
      sdists: count,
      interpreterRuns: count * PYTHON_KEYS.length,
      seconds: secs,
    });
  }

  // (3) static first
  progress(`(3) static methods first, sandbox for needs-setup-py, SDIST_CONCURRENCY=${c0}`);
  let staticCount = 0;
  let staticWrong = 0;
  const staticResults: SandboxResults[] = new Array(corpusS.length);
  t0 = process.hrtime.bigint();
  await pool(
    corpusS.map((e, i) => ({ e, i })),
    c0,
    async ({ e, i }) => {
      const s = await readSdistStaticMetadata(e.file);
      if (s.kind === 'static') {
        staticCount++;
        if (!e.static) staticWrong++;
        return;
      }
      if (e.static) staticWrong++;
      staticResults[i] = (
        await runSandbox({ sdistPath: e.file, sha256: e.sha256, filename: e.filename })
      ).results;
    },
  );
  rows.push({
    label: `(3) static methods first, sandbox only for needs-setup-py, SDIST_CONCURRENCY=${c0}`,
    sdists: count,
    interpreterRuns: (count - staticCount) * PYTHON_KEYS.length,
    seconds: seconds(t0),
    note: `${staticCount} static`,
  });

  // (4) floor
  progress(`(4) floor: ${count} × 9 extract.py runs directly on the host, CPU time`);
  const { stdout: pyJson } = await execFileP(
    'nix-instantiate',
    [
      '--eval',
      '--strict',
      '--json',
      '-E',
      `(import ${path.join(REPO_ROOT, 'nix', 'interpreters-host.nix')} {}).pythons`,
    ],
    { maxBuffer: 16 << 20 },
  );
  const jobs = path.join(tmp, 'floor.json');
  await writeFile(jobs, JSON.stringify({ sdists: corpusA.map((e) => e.file), pythons: JSON.parse(pyJson) }));
  const { stdout: floorJson } = await execFileP('python3', [SDIST_CORPUS_PY, 'floor', EXTRACT_PY, jobs], {
    maxBuffer: 64 << 20,
  });
  const floor = JSON.parse(floorJson) as Record<
    string,
    Record<PythonKey, { cpu: number; result: SandboxResult | null }>
  >;
  let cpu = 0;
  let floorDiffer = 0;
  for (const e of corpusA) {
    for (const key of PYTHON_KEYS) {
      const f = floor[e.filename]![key];
      cpu += f.cpu;
      if (sandboxOutcome(f.result) !== sandboxOutcome(full.get(e.filename)?.[key])) floorDiffer++;
    }
  }
  rows.push({
    label: `(4) floor: interpreters' CPU time (user+sys, ${fixed(cpu, 1)} s) ÷ ${cores} cores`,
    sdists: count,
    interpreterRuns: count * PYTHON_KEYS.length,
    seconds: cpu / cores,
  });

  // (5) repeat
  progress('(5) repeat of (2) on the same bytes');
  const repeat = await runAll(corpusA, c0);
  rows.push({
    label: `(5) repeat of (2) on the same sdists (Nix cache hits), SDIST_CONCURRENCY=${c0}`,
    sdists: count,
    interpreterRuns: 0,
    seconds: repeat.secs,
  });

  // checks
  let compared = 0;
  for (const e of subset) {
    for (const key of PYTHON_KEYS) {
      compared++;
      const a = baseline.get(e.filename)?.[key];
      const b = full.get(e.filename)?.[key];
      if (stableJson(a) !== stableJson(b))
        mismatches.push(`${e.filename} ${key}: baseline ${sandboxOutcome(a)} vs ${sandboxOutcome(b)}`);
    }
  }
  let crossDiffer = 0;
  const ref = byIndex.get(c0)!;
  for (const [c, results] of byIndex) {
    if (c === c0) continue;
    results.forEach((r, i) => {
      if (stableJson(r) !== stableJson(ref[i])) crossDiffer++;
    });
  }
  staticResults.forEach((r, i) => {
    if (r && stableJson(r) !== stableJson(ref[i])) crossDiffer++;
  });
  repeat.results.forEach((r, i) => {
    if (stableJson(r) !== stableJson(ref[i])) crossDiffer++;
  });
  const codes = new Map<string, number>();
  for (const r of ref)
    for (const key of PYTHON_KEYS) {
      const x = r[key];
      const code = !x ? 'missing' : 'ok' in x ? 'ok' : x.error.code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }

  // table
  const baseRate = (count / rows[0]!.seconds) * 60;
  const floorSeconds = rows.find((r) => r.label.startsWith('(4)'))!.seconds;
  const headers = [
    'row',
    'sdists',
    'interpreter runs',
    'seconds',
    'sdists/min',
    'vs baseline',
    '÷ floor time',
  ];
  const body = rows.map((r) => {
    const rate = (r.sdists / r.seconds) * 60;
    return [
      r.label + (r.note ? ` (${r.note})` : ''),
      String(r.sdists),
      String(r.interpreterRuns),
      r.extrapolated
        ? `${fixed(r.seconds)} (measured ${fixed(r.extrapolated.measuredSeconds)} s on ${r.extrapolated.measuredSdists})`
        : fixed(r.seconds),
      fixed(rate, 1),
      `${fixed(rate / baseRate, 2)}×`,
      `${fixed(r.seconds / floorSeconds, 2)}×`,
    ];
  });
  const align: Array<'l' | 'r'> = ['l', 'r', 'r', 'r', 'r', 'r', 'r'];
  const path2 = rows.find((r) => r.label.includes(`SDIST_CONCURRENCY=${c0}`) && r.label.startsWith('(2)'))!;
  const best2 = rows.filter((r) => r.label.startsWith('(2)')).sort((a, b) => a.seconds - b.seconds)[0]!;
  const ratio = rows[0]!.seconds / path2.seconds;
  const bestRatio = rows[0]!.seconds / best2.seconds;
  const facts = machineFacts();
  const verdict = [
    `- 3× the baseline's sdists/minute with the setup.py path: **${ratio >= 3 ? 'met' : 'not met'}** at SDIST_CONCURRENCY=${c0} (${fixed(ratio, 2)}×); best concurrency ${fixed(bestRatio, 2)}× (${best2.label.replace(/^.*SDIST_CONCURRENCY=/, 'SDIST_CONCURRENCY=')}).${interleaved ? ` Paired on the baseline's ${subset.length} sdists alone, run in the same minutes: baseline ${fixed(baseSeconds)} s, pypi-graph ${fixed(pairedSeconds)} s (${fixed(baseSeconds / pairedSeconds, 2)}×).` : ''}`,
    `- Identical results: ${mismatches.length === 0 ? '**yes**' : `**no, ${mismatches.length} differ**`} — baseline vs. (2) compared as whole result objects on ${compared} (sdist, Python) pairs; (2) at other concurrencies, (3)'s sandbox runs and (5) vs. (2) at SDIST_CONCURRENCY=${c0}, per sdist (different salts, same content): ${crossDiffer} differ; the floor's direct runs vs. (2) (result or error code+log): ${floorDiffer} of ${count * PYTHON_KEYS.length} differ.`,
    `- Static methods: ${staticCount} of ${count} sdists answered without the sandbox (${corpusS.filter((e) => e.static).length} built with trustworthy static metadata; ${staticWrong} misclassified).`,
    `- Outcomes of (2) per (sdist, Python): ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `- Isolation is not weakened: every sdist is still its own derivation in the Nix build sandbox; within it each interpreter gets its own fresh unpacked copy, process group and rlimits, and sees only its standard library and the setuptools shipped for it, no host-installed package (nix/README.md).`,
  ];
  const method = `Corpus: ${count} sdists generated for this run (\`scripts/bench/sdist-corpus.py\`, deterministic), ten styles in turn — plain setup.py, setup.cfg-only, setup.py reading requirements.txt, setup.py importing its own package, Python-2-only syntax, Python-3-only syntax, extras with markers, and three with trustworthy static metadata (PKG-INFO 2.2, PEP 621 \`[project]\`, PKG-INFO 2.2 with an extra). Every setup.py carries a per-run random salt in a comment, a different one for each cold row, so no cold row is a Nix cache hit; (1), (2) at SDIST_CONCURRENCY=${c0} and (5) run the same bytes. All rows use \`runSandbox\` (packages/extractor) with host interpreters and default limits (parallelism ${DEFAULT_SANDBOX_LIMITS.parallelism}); seconds are wall time including sha256, \`nix-store --add-fixed\` and \`nix-build\`. (1) runs \`pythons: [key]\` once per sdist per key, one after another${interleaved ? ", interleaved with (2) at SDIST_CONCURRENCY=1 sdist by sdist (the baseline runs of sdist i, then its pypi-graph run; (2)'s seconds are the sum of its runs), so that both meet the same load" : ''}${subset.length < count ? `, on the first ${subset.length} sdists (every style once), and its seconds for all ${count} are the measured seconds × ${count}/${subset.length} (sdists/minute is what was measured)` : ''}. (3) reads \`readSdistStaticMetadata\` first and runs the sandbox only for \`needs-setup-py\`. (4) runs \`python -s -S -B nix/extractor/extract.py … <shipped setuptools>\` for each sdist and Python directly on the host, one at a time, in a fresh unpacked copy with the driver's environment, and sums the children's user+sys CPU time (unpacking not counted) ÷ ${cores} cores. "÷ floor time" = the row's seconds ÷ the floor's seconds.`;
  const header = `\`pnpm bench sdist --count ${count} --baseline-count ${subset.length} --concurrency ${concurrencies.join(',')}\` — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${facts.cpus} CPUs (${facts.cpuModel}), ${facts.memoryGb} GiB RAM, ${facts.kernel}, Node ${facts.node}, nix-build ${(await execFileP('nix-build', ['--version'])).stdout.trim().replace(/^.*\) /, '')}; code at ${gitRevision()}; load average ${loadBefore} before, ${loadAverage()} after (other work on the machine counts).`;
  const phaseTable = phaseRows();
  process.stdout.write(`\n${textTable(phaseTable.headers, phaseTable.body)}\n`);
  process.stdout.write(`\n${textTable(headers, body, align)}\n\n${verdict.join('\n')}\n`);
  if (mismatches.length) process.stdout.write(`${mismatches.slice(0, 20).join('\n')}\n`);
  if (!values['no-doc']) {
    const section = [
      `## ${HEADING}`,
      '',
      header,
      '',
      method,
      '',
      markdownTable(headers, body, align),
      '',
      ...verdict,
    ].join('\n');
    await writeDocSection(path.resolve(REPO_ROOT, values.doc), HEADING, section);
  }
  if (!values.keep) await rm(tmp, { recursive: true, force: true });
  return mismatches.length === 0 ? 0 : 1;
}
