// pnpm bench zip: the two zip readers the product had, side by side on the same wheels and the
// same HTTP range reads (issue 13, point 7): packages/archive's reader (what the extractor's range
// path uses: `readWheelMetadata(…, { methods: ['range'] })`) and yauzl (`fromRandomAccessReader`
// over the same `HttpRandomAccess`, the extractor's range cache). For each wheel: requests, bytes,
// wall time and CPU to get METADATA; METADATA checked byte for byte against CPython's zipfile.
// Then the hostile wheels of test/fixtures/wheels, bytes appended and prepended, and every
// single-byte flip of two small wheels through both readers: which are refused, with what, and
// which read wrong bytes without a word. yauzl is a devDependency of the workspace root, used
// only here, as the baseline.
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { parseArgs, promisify } from 'node:util';
import { bufferRandomAccess, openZip, type RandomAccess } from '@pypi-graph/archive';
import { loadConfig } from '@pypi-graph/config';
import { CrawlError } from '@pypi-graph/core';
import { HttpRandomAccess, readWheelMetadata } from '@pypi-graph/extractor';
import { createPypiClient, type PypiClient, type TrafficMeter } from '@pypi-graph/pypi-client';
import * as yauzl from 'yauzl';
import {
  fixed,
  gitRevision,
  installedVersion,
  int,
  loadAverage,
  machineFacts,
  markdownTable,
  progress,
  REPO_ROOT,
  textTable,
  writeDocSection,
} from './common';
import { GENERATE, REAL } from './wheels';

const HEADING = 'Zip readers';
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/wheels');
const METADATA_PATH = /^[^/]+\.dist-info\/METADATA$/;
const MAX_METADATA = 4 << 20;

const USAGE = `usage: pnpm bench zip [--sizes 5k,50k,500k,5m,25m,120m] [--repeat 3] [--pip-index]
                     [--doc docs/benchmarks.md] [--no-doc]

  --sizes      sizes of the generated wheels of pnpm bench wheels (k = 1,000 bytes, m = 1,000,000)
  --repeat     runs of each reader on each generated or real fixture wheel (median wall time and CPU)
  --pip-index  also every wheel of the machine's local pip index (the file:// indexes and
               find-links folders of \`pip config list\`), once each`;

// For each wheel path: size, entries, and the sha256 of the METADATA zipfile reads (the one
// top-level `*.dist-info/METADATA`), or why there is none.
const ORACLE = `
import hashlib, json, sys, zipfile
out = {}
for path in sys.argv[1:]:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            meta = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(meta) != 1:
                raise ValueError("%d METADATA entries" % len(meta))
            data = z.read(meta[0])
            out[path] = dict(entries=len(names), sha256=hashlib.sha256(data).hexdigest())
    except Exception as err:
        out[path] = dict(error=repr(err))
print(json.dumps(out))
`;

interface Wheel {
  filename: string;
  path: string;
  size: number;
  entries: number;
  metadataSha256: string;
  kind: 'real' | 'generated' | 'pip-index';
}

interface Run {
  requests: number;
  bytes: number;
  /** Median over the repeats, ms. */
  ms: number;
  cpuMs: number;
}

type Reader = 'archive' | 'archive64' | 'yauzl';
const READERS: readonly Reader[] = ['archive', 'archive64', 'yauzl'];
/** yauzl's first read: the end record and the longest comment. */
const YAUZL_TAIL = 22 + 0xffff;

interface Row {
  wheel: Wheel;
  runs: Record<Reader, Run>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sha256 = async (data: Buffer) =>
  (await import('node:crypto')).createHash('sha256').update(data).digest('hex');

/**
 * A Range-capable file server for the wheels, in this process: HttpRandomAccess asks it for
 * ranges through the pypi-client, as it asks PyPI's file host. (Not the local PyPI server, which
 * hashes every file it serves at start; the local pip index holds gigabytes of wheels.)
 */
async function startRangeServer(files: Map<string, Wheel>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const wheel = files.get(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1)));
    if (!wheel) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m ? Math.min(Number(m[2]), wheel.size - 1) : wheel.size - 1;
    res.writeHead(m ? 206 : 200, {
      'content-length': String(end - start + 1),
      ...(m ? { 'content-range': `bytes ${start}-${end}/${wheel.size}` } : {}),
    });
    createReadStream(wheel.path, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** yauzl's reader over a RandomAccess: each `_readStreamForRange` is one `read` (end exclusive). */
class RangeReader extends yauzl.RandomAccessReader {
  readonly #source: RandomAccess;
  constructor(source: RandomAccess) {
    super();
    this.#source = source;
  }
  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    if (end <= start) out.end();
    else
      this.#source.read(start, end - 1).then(
        (data) => out.end(data),
        (err: Error) => out.destroy(err),
      );
    return out;
  }
}

async function collect(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) throw new Error('METADATA over the cap');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * METADATA through yauzl as the product would need it: every entry listed (a wheel with two
 * METADATA, or two .dist-info directories, is refused, so stopping at the first match is not an
 * option), then the one METADATA read with `validateEntrySizes`.
 */
async function yauzlMetadata(zip: yauzl.ZipFile): Promise<Buffer> {
  try {
    const found: yauzl.Entry[] = [];
    for await (const entry of zip.eachEntry()) if (METADATA_PATH.test(entry.fileName)) found.push(entry);
    if (found.length !== 1) throw new Error(`${found.length} METADATA entries`);
    if (found[0]!.uncompressedSize > MAX_METADATA) throw new Error('METADATA over the cap');
    return await collect(await zip.openReadStreamPromise(found[0]!), MAX_METADATA);
  } finally {
    zip.close();
  }
}

const YAUZL_OPTIONS = { lazyEntries: true, validateEntrySizes: true, autoClose: false } as const;

async function viaYauzl(client: PypiClient, url: string, size: number, meter: TrafficMeter): Promise<Buffer> {
  const source = new HttpRandomAccess(client, url, size, { meter, maxBytesIfRangeIgnored: size });
  return yauzlMetadata(
    await yauzl.fromRandomAccessReaderPromise(new RangeReader(source), size, YAUZL_OPTIONS),
  );
}

async function viaArchive(
  client: PypiClient,
  url: string,
  wheel: Wheel,
  tailBytes?: number,
): Promise<Run & { metadata: Buffer }> {
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  const r = await readWheelMetadata(
    client,
    { url, filename: wheel.filename, sha256: '', size: wheel.size, hasCoreMetadata: false },
    { tmpDir: os.tmpdir(), methods: ['range'], tailBytes },
  );
  const used = process.cpuUsage(cpu);
  return {
    metadata: r.metadata,
    requests: r.requests,
    bytes: r.bytesTransferred,
    ms: performance.now() - t0,
    cpuMs: (used.user + used.system) / 1000,
  };
}

async function measure(client: PypiClient, base: string, wheel: Wheel, repeat: number): Promise<Row> {
  const url = `${base}/${encodeURIComponent(wheel.filename)}`;
  const runs = {} as Record<Reader, Run>;
  for (const reader of READERS) {
    const all: Run[] = [];
    for (let i = 0; i < repeat; i++) {
      let run: Run & { metadata: Buffer };
      if (reader === 'archive') run = await viaArchive(client, url, wheel);
      else if (reader === 'archive64') run = await viaArchive(client, url, wheel, YAUZL_TAIL);
      else {
        const meter: TrafficMeter = { requests: 0, bytesReceived: 0 };
        const t0 = performance.now();
        const cpu = process.cpuUsage();
        const metadata = await viaYauzl(client, url, wheel.size, meter);
        const used = process.cpuUsage(cpu);
        run = {
          metadata,
          requests: meter.requests,
          bytes: meter.bytesReceived,
          ms: performance.now() - t0,
          cpuMs: (used.user + used.system) / 1000,
        };
      }
      const got = await sha256(run.metadata);
      if (got !== wheel.metadataSha256)
        throw new Error(`${wheel.filename}: ${reader} read METADATA ${got}, zipfile ${wheel.metadataSha256}`);
      all.push(run);
    }
    runs[reader] = {
      requests: all[0]!.requests,
      bytes: all[0]!.bytes,
      ms: median(all.map((r) => r.ms)),
      cpuMs: median(all.map((r) => r.cpuMs)),
    };
  }
  return { wheel, runs };
}

/** Wheel files of the local pip index: its file:// simple indexes' links and its find-links folders. */
async function pipIndexWheels(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('pip', ['config', 'list']);
  const found = new Set<string>();
  for (const line of stdout.split('\n')) {
    const m = /^[^=]*\.(extra-index-url|index-url|find-links)='(.*)'$/.exec(line.trim());
    if (!m) continue;
    for (const value of m[2]!.split(/\s+/)) {
      const dir = value.startsWith('file://') ? new URL(value).pathname : value.startsWith('/') ? value : '';
      if (!dir) continue;
      const names = await readdir(dir).catch(() => [] as string[]);
      if (m[1] === 'find-links') {
        for (const n of names) if (n.endsWith('.whl')) found.add(path.join(dir, n));
        continue;
      }
      for (const project of names) {
        const page = await readFile(path.join(dir, project, 'index.html'), 'utf8').catch(() => '');
        for (const a of page.matchAll(/href="([^"#]+\.whl)(?:#[^"]*)?"/g)) {
          found.add(path.resolve(dir, project, decodeURIComponent(a[1]!)));
        }
      }
    }
  }
  return [...found].sort();
}

async function oracle(
  paths: string[],
): Promise<Record<string, { entries: number; sha256: string } | { error: string }>> {
  const out: Record<string, { entries: number; sha256: string } | { error: string }> = {};
  // In batches: the argument list of a few thousand paths is long.
  for (let i = 0; i < paths.length; i += 200) {
    const { stdout } = await promisify(execFile)('python3', ['-c', ORACLE, ...paths.slice(i, i + 200)], {
      maxBuffer: 64 << 20,
    });
    Object.assign(out, JSON.parse(stdout));
  }
  return out;
}

// --- hostile archives -------------------------------------------------------------------------

type Outcome = { ok: Buffer } | { code: string };

async function archiveOutcome(bytes: Buffer, pick: (names: string[]) => number): Promise<Outcome> {
  try {
    const zip = await openZip(bufferRandomAccess(bytes));
    const at = pick(zip.entries.map((e) => e.name));
    if (at < 0) return { code: 'no METADATA' };
    return {
      ok: await zip.readEntry(zip.entries[at]!, {
        maxBytes: MAX_METADATA,
        tooLargeCode: 'metadata-too-large',
      }),
    };
  } catch (err) {
    if (err instanceof CrawlError) return { code: err.code };
    throw err;
  }
}

async function yauzlOutcome(bytes: Buffer, pick: (names: string[]) => number): Promise<Outcome> {
  try {
    const zip = await yauzl.fromBufferPromise(bytes, YAUZL_OPTIONS);
    try {
      const entries: yauzl.Entry[] = [];
      for await (const entry of zip.eachEntry()) entries.push(entry);
      const at = pick(entries.map((e) => e.fileName));
      if (at < 0) return { code: 'no METADATA' };
      if (entries[at]!.uncompressedSize > MAX_METADATA) return { code: 'over the cap (declared)' };
      return { ok: await collect(await zip.openReadStreamPromise(entries[at]!), MAX_METADATA) };
    } finally {
      zip.close();
    }
  } catch (err) {
    // yauzl's errors are plain Errors: the message is all there is.
    return { code: `Error: ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 70)}` };
  }
}

const firstMetadata = (names: string[]) => names.findIndex((n) => METADATA_PATH.test(n));

interface HostileRow {
  name: string;
  what: string;
  archive: string;
  yauzl: string;
}

async function hostileRows(): Promise<HostileRow[]> {
  const describeFixture: Record<string, string> = {};
  const readme = await readFile(path.join(FIXTURES, 'README.md'), 'utf8');
  for (const m of readme.matchAll(/^\| `(wf_\w+)` \| (.+?) \| (.+?) \|$/gm)) describeFixture[m[1]!] = m[2]!;
  const good = await readFile(path.join(FIXTURES, 'wf_stored-1.0-py3-none-any.whl'));
  const cases: Array<[string, string, Buffer]> = [];
  for (const f of (await readdir(FIXTURES)).filter((n) => n.endsWith('.whl')).sort()) {
    const name = f.replace(/-1\.0-py3-none-any\.whl$/, '');
    cases.push([name, describeFixture[name] ?? '', await readFile(path.join(FIXTURES, f))]);
  }
  cases.push([
    'wf_stored + 8 bytes',
    'bytes appended after the end record',
    Buffer.concat([good, Buffer.from('trailing')]),
  ]);
  cases.push([
    '7 bytes + wf_stored',
    'bytes prepended (offsets no longer match)',
    Buffer.concat([Buffer.from('MZ stub'), good]),
  ]);
  const show = (o: Outcome, expected: Buffer | undefined) =>
    'ok' in o ? (expected && !o.ok.equals(expected) ? '**read, wrong bytes**' : 'read') : `\`${o.code}\``;
  const rows: HostileRow[] = [];
  for (const [name, what, bytes] of cases) {
    // The first METADATA, as a server picking one would; the extractor also refuses duplicates.
    const archive = await archiveOutcome(bytes, firstMetadata);
    const y = await yauzlOutcome(bytes, firstMetadata);
    rows.push({ name, what, archive: show(archive, undefined), yauzl: show(y, undefined) });
  }
  return rows;
}

interface FlipCount {
  wheel: string;
  flips: number;
  archive: Record<'same' | 'refused' | 'wrong', number>;
  yauzl: Record<'same' | 'refused' | 'wrong', number>;
}

/** Every single-byte flip (xor 0x55) of a small wheel; entry 1 (METADATA) read by both readers. */
async function flips(name: string): Promise<FlipCount> {
  const good = await readFile(path.join(FIXTURES, `${name}-1.0-py3-none-any.whl`));
  const entry1 = (names: string[]) => (names.length > 1 ? 1 : -1);
  const original = await archiveOutcome(good, entry1);
  if (!('ok' in original)) throw new Error(`${name} does not read`);
  const count = {
    wheel: name,
    flips: good.length,
    archive: { same: 0, refused: 0, wrong: 0 },
    yauzl: { same: 0, refused: 0, wrong: 0 },
  };
  for (let i = 0; i < good.length; i++) {
    const bytes = Buffer.from(good);
    bytes[i] = bytes[i]! ^ 0x55;
    for (const [reader, outcome] of [
      ['archive', await archiveOutcome(bytes, entry1)],
      ['yauzl', await yauzlOutcome(bytes, entry1)],
    ] as const) {
      const kind = !('ok' in outcome) ? 'refused' : outcome.ok.equals(original.ok) ? 'same' : 'wrong';
      count[reader][kind]++;
    }
  }
  return count;
}

// --- report -----------------------------------------------------------------------------------

function label(w: Wheel): string {
  if (w.kind === 'real') return w.filename.replace(/-py3-none-any\.whl$/, '').replace(/-/, ' ');
  if (w.kind === 'generated') {
    const m = /^benchwheel_(\w+?)-/.exec(w.filename);
    return `generated ${m?.[1] ?? w.filename}${/manylinux/.test(w.filename) ? ' (binary)' : ''}`;
  }
  return w.filename;
}

const cell = (r: Run) => `${r.requests} / ${int(r.bytes)} / ${fixed(r.ms, 1)} / ${fixed(r.cpuMs, 1)}`;

const READER_LABEL: Record<Reader, string> = {
  archive: 'packages/archive',
  archive64: 'packages/archive, 64 KiB tail',
  yauzl: 'yauzl',
};

interface Totals {
  requests: number;
  bytes: number;
  ms: number;
  cpuMs: number;
  /** median / p90 / p99 / max */
  requestQuantiles: number[];
  byteQuantiles: number[];
}

function quantiles(xs: number[]): number[] {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return [q(0.5), q(0.9), q(0.99), s[s.length - 1]!];
}

function totals(rows: Row[], reader: Reader): Totals {
  return {
    requests: rows.reduce((n, r) => n + r.runs[reader].requests, 0),
    bytes: rows.reduce((n, r) => n + r.runs[reader].bytes, 0),
    ms: rows.reduce((n, r) => n + r.runs[reader].ms, 0),
    cpuMs: rows.reduce((n, r) => n + r.runs[reader].cpuMs, 0),
    requestQuantiles: quantiles(rows.map((r) => r.runs[reader].requests)),
    byteQuantiles: quantiles(rows.map((r) => r.runs[reader].bytes)),
  };
}

/** On how many rows `a` needs fewer (or more) requests and bytes than `b`. */
function compare(rows: Row[], a: Reader, b: Reader): string {
  const n = (f: (r: Row) => boolean) => rows.filter(f).length;
  return (
    `${READER_LABEL[a]} vs ${READER_LABEL[b]}: fewer requests on ${n((r) => r.runs[a].requests < r.runs[b].requests)}, ` +
    `more on ${n((r) => r.runs[a].requests > r.runs[b].requests)}; fewer bytes on ` +
    `${n((r) => r.runs[a].bytes < r.runs[b].bytes)}, more on ${n((r) => r.runs[a].bytes > r.runs[b].bytes)}`
  );
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '5k,50k,500k,5m,25m,120m' },
      repeat: { type: 'string', default: '3' },
      'pip-index': { type: 'boolean', default: false },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`--repeat: "${values.repeat}" is not a positive integer`);
  const sizes = values.sizes
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      const m = /^(\d+(?:\.\d+)?)([km]?)b?$/i.exec(s.trim());
      if (!m) throw new Error(`--sizes: "${s}" is not a size like 50k or 5m`);
      return Math.round(Number(m[1]) * { '': 1, k: 1e3, m: 1e6 }[m[2]!.toLowerCase() as '' | 'k' | 'm']);
    });
  const command = ['pnpm bench zip', ...args].join(' ');
  const date = new Date();
  const machine = machineFacts();
  const exec = promisify(execFile);
  const python = (await exec('python3', ['--version'])).stdout.trim();

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-zip-'));
  const rows: Row[] = [];
  const skipped: string[] = [];
  let hostile: HostileRow[] = [];
  let flipped: FlipCount[] = [];
  try {
    const folder = path.join(tmp, 'wheels');
    await mkdir(folder);
    for (const f of REAL)
      await copyFile(path.join(REPO_ROOT, 'test/fixtures/index/real', f), path.join(folder, f));
    progress(`generating wheels of ${sizes.map(int).join(', ')} bytes in ${folder}`);
    await exec('python3', ['-c', GENERATE, folder, sizes.join(',')], { maxBuffer: 16 << 20 });
    const local = (await readdir(folder)).sort().map((f) => path.join(folder, f));
    const pipIndex = values['pip-index'] ? await pipIndexWheels() : [];
    if (values['pip-index']) progress(`${pipIndex.length} wheels in the local pip index`);
    const facts = await oracle([...local, ...pipIndex]);
    const wheels: Wheel[] = [];
    const byName = new Map<string, Wheel>();
    for (const p of [...local, ...pipIndex]) {
      const filename = path.basename(p);
      const fact = facts[p]!;
      if ('error' in fact) {
        skipped.push(`${filename} (${fact.error})`);
        continue;
      }
      if (byName.has(filename)) continue;
      const kind = p.startsWith(folder) ? (REAL.includes(filename) ? 'real' : 'generated') : 'pip-index';
      const wheel: Wheel = {
        filename,
        path: p,
        size: (await stat(p)).size,
        entries: fact.entries,
        metadataSha256: fact.sha256,
        kind,
      };
      wheels.push(wheel);
      byName.set(filename, wheel);
    }

    const server = await startRangeServer(byName);
    const client = createPypiClient(
      loadConfig({ PYPI_URL: server.url, HTTP_RPS_PER_HOST: '0', LOG_LEVEL: 'silent' }),
    );
    try {
      for (const [i, wheel] of wheels.entries()) {
        const row = await measure(client, server.url, wheel, wheel.kind === 'pip-index' ? 1 : repeat);
        rows.push(row);
        if (wheel.kind !== 'pip-index' || i % 50 === 0 || i === wheels.length - 1) {
          progress(
            `${i + 1}/${wheels.length} ${label(wheel)}: ${int(wheel.size)} B, archive ${cell(row.runs.archive)}, yauzl ${cell(row.runs.yauzl)}`,
          );
        }
      }
    } finally {
      await client.close();
      await server.close();
    }
    progress('hostile archives through both readers');
    hostile = await hostileRows();
    flipped = [await flips('wf_stored'), await flips('wf_zip64')];
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  const headers = [
    'wheel',
    'size, B',
    'entries',
    ...READERS.map((r) => `${READER_LABEL[r]}: req / B / ms / CPU ms`),
  ];
  const align: Array<'l' | 'r'> = ['l', 'r', 'r', 'r', 'r', 'r'];
  const fixtureRows = rows
    .filter((r) => r.wheel.kind !== 'pip-index')
    .sort((a, b) => a.wheel.size - b.wheel.size);
  const table = fixtureRows.map((r) => [
    label(r.wheel),
    int(r.wheel.size),
    int(r.wheel.entries),
    ...READERS.map((reader) => cell(r.runs[reader])),
  ]);
  const pipRows = rows.filter((r) => r.wheel.kind === 'pip-index');

  const hostileHeaders = ['archive', 'what it is', 'packages/archive', 'yauzl'];
  const hostileTable = hostile.map((h) => [`\`${h.name}\``, h.what, h.archive, h.yauzl]);
  const flipHeaders = [
    'wheel',
    'flips',
    'packages/archive: same / refused / wrong bytes',
    'yauzl: same / refused / wrong bytes',
  ];
  const flipTable = flipped.map((f) => [
    `\`${f.wheel}\``,
    int(f.flips),
    `${f.archive.same} / ${f.archive.refused} / ${f.archive.wrong}`,
    `${f.yauzl.same} / ${f.yauzl.refused} / ${f.yauzl.wrong}`,
  ]);

  const out: string[] = [`## ${HEADING}`, ''];
  out.push(
    `\`${command}\` — ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GiB RAM, ${machine.kernel}, ` +
      `Node ${machine.node}, ${python}, yauzl ${installedVersion('..', 'yauzl')}; code at ${gitRevision()}; ` +
      `load average ${machine.loadAverage} before, ${loadAverage()} after.`,
    '',
    "A wheel's METADATA by HTTP range reads, with each reader over the same `HttpRandomAccess` (packages/extractor: " +
      'range reads through the pypi-client, with a cache of what was already fetched) and a Range-capable file server ' +
      "in the same process: **packages/archive** is the extractor's range path (`readWheelMetadata(…, { methods: " +
      "['range'] })`: `openZipTail` on a tail of 0.5% of the wheel, 4–64 KiB, then METADATA); **packages/archive, 64 KiB " +
      "tail** is the same with yauzl's first read (`tailBytes` 65,557: the end record and the longest comment), to tell " +
      'the reader from the tail size; **yauzl** is `yauzl.fromRandomAccessReader` with a reader whose ' +
      '`_readStreamForRange` is one `HttpRandomAccess.read`, every entry listed (duplicates and a second `.dist-info` ' +
      'must be seen), then METADATA read with `validateEntrySizes`. Requests and bytes are the response bodies ' +
      `received (the call's \`TrafficMeter\`); ms and CPU ms (this process: the file server included) are medians of ${repeat} runs. ` +
      "Every METADATA is checked byte for byte against CPython's `zipfile`. Wheels: the real ones of " +
      '`test/fixtures/index/real/` and those `pnpm bench wheels` generates (`.dist-info/` last).',
    '',
    markdownTable(headers, table, align),
  );
  out.push('', `${compare(fixtureRows, 'archive', 'yauzl')}; ${compare(fixtureRows, 'archive64', 'yauzl')}.`);
  if (pipRows.length > 0) {
    const q = (x: number[]) => x.map(int).join(' / ');
    out.push(
      '',
      `The machine's local pip index (\`--pip-index\`: the wheels its \`pip config list\` file:// indexes and find-links ` +
        `name), each read once by each reader: ${int(pipRows.length)} wheels, ` +
        `${int(pipRows.reduce((n, r) => n + r.wheel.size, 0))} B in all` +
        (skipped.length > 0 ? ` (${skipped.length} skipped: zipfile finds no single METADATA in them)` : '') +
        '.',
      '',
      markdownTable(
        [
          'reader',
          'requests, total',
          'requests: median / p90 / p99 / max',
          'bytes, total',
          'bytes: median / p90 / p99 / max',
          'wall s',
          'CPU s',
        ],
        READERS.map((reader) => {
          const t = totals(pipRows, reader);
          return [
            READER_LABEL[reader],
            int(t.requests),
            q(t.requestQuantiles),
            int(t.bytes),
            q(t.byteQuantiles),
            fixed(t.ms / 1000, 1),
            fixed(t.cpuMs / 1000, 1),
          ];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      `${compare(pipRows, 'archive', 'yauzl')}; ${compare(pipRows, 'archive64', 'yauzl')}.`,
    );
  }
  out.push(
    '',
    'Hostile and broken archives (`test/fixtures/wheels/` and two made here from `wf_stored`), read from memory by ' +
      "each reader: the first top-level `.dist-info/METADATA`, capped at 4 MiB. A code is packages/archive's typed " +
      "`CrawlError`; yauzl throws plain `Error`s, shown by their message. 'read' is bytes returned.",
    '',
    markdownTable(hostileHeaders, hostileTable),
    '',
    'Every single-byte flip (xor 0x55) of two small wheels, the METADATA entry read by each reader: the bytes of the ' +
      'unflipped wheel, a refusal, or other bytes returned without an error.',
    '',
    markdownTable(flipHeaders, flipTable, ['l', 'r', 'r', 'r']),
  );
  const section = out.join('\n');
  process.stdout.write(`${textTable(headers, table, align)}\n\n${section}\n`);
  if (!values['no-doc']) {
    await writeDocSection(path.resolve(REPO_ROOT, values.doc), HEADING, section);
    progress(`wrote "## ${HEADING}" in ${values.doc}`);
  }
  return 0;
}
