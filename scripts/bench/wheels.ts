// pnpm bench wheels: a wheel's METADATA by each of the three methods of packages/extractor
// (PEP 658 `.metadata` file, HTTP range reads, full download) on wheels from a few KB to over
// 100 MB, served by the local PyPI server: requests, bytes and wall time per wheel and method,
// side by side. The baseline is the full download of the same wheel in the same run. The wheels:
// the three real ones of test/fixtures/index/real/ and wheels generated here (Python standard
// library, deterministic) with the shape of real ones: many modules, binary payloads that do not
// compress (so sizes are real), `.dist-info/` written last as bdist_wheel, flit, hatch, poetry
// and setuptools write it, a METADATA of realistic size and a RECORD listing every file.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadConfig } from '@pypi-graph/config';
import { rangeTailBytes, readWheelMetadata, type WheelFileRef } from '@pypi-graph/extractor';
import type { WheelMetadataMethod, WheelMetadataResult } from '@pypi-graph/model';
import { createPypiClient, type PypiClient } from '@pypi-graph/pypi-client';
import { startPypiServer } from '@pypi-graph/pypi-server';
import {
  fixed,
  gitRevision,
  int,
  loadAverage,
  machineFacts,
  markdownTable,
  progress,
  REPO_ROOT,
  textTable,
  writeDocSection,
} from './common';

const HEADING = 'Wheel metadata';
/** The real wheels among test/fixtures/wheels (the rest are generated or hostile). */
export const REAL = ['pip-23.2.1', 'setuptools-65.5.0', 'setuptools-66.1.1'].map(
  (s) => `${s}-py3-none-any.whl`,
);
const METHODS: readonly WheelMetadataMethod[] = ['pep658', 'range', 'download'];
/** The range target applies to wheels over this many bytes. */
const ONE_MB = 1_000_000;

const USAGE = `usage: pnpm bench wheels [--sizes 5k,50k,500k,5m,25m,120m] [--repeat 3]
                         [--doc docs/benchmarks.md] [--no-doc] [--keep]

  --sizes   sizes of the generated wheels (k = 1,000 bytes, m = 1,000,000), besides the 3 real ones
  --repeat  runs of each method on each wheel; the median wall time is reported
  --doc     where the "## ${HEADING}" section is written
  --no-doc  print the results only
  --keep    keep the temporary folder of wheels`;

// Writes wheels of the given sizes into argv[1], then prints, for every wheel in the folder, its
// size, entry count and the sha256 of the METADATA zipfile reads from it (the expected bytes).
export const GENERATE = String.raw`
import base64, hashlib, json, os, random, sys, zipfile, zlib
folder, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",") if s]
DATE = (2024, 1, 2, 3, 4, 6)
WORDS = ("self return import from def class if else elif for while in not and or None True False "
         "value result data path name config request response item index count offset buffer "
         "parse read write open close error raise try except with as yield lambda assert").split()

def label(n):
    return "%dmb" % round(n / 1e6) if n >= 1e6 else "%dkb" % round(n / 1e3)

def module(rng, lines):
    out = ['"""Generated module: code-like text, compresses about as real Python does."""', ""]
    for i in range(lines):
        indent = "    " * rng.randrange(0, 3)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 9)))
        out.append("%s%s = %s(%s)  # %08x" % (indent, "v%d" % i, rng.choice(WORDS), words.replace(" ", ", "), rng.getrandbits(32)))
    return ("\n".join(out) + "\n").encode()

def metadata(rng, name):
    head = [
        "Metadata-Version: 2.1", "Name: " + name, "Version: 1.0.0",
        "Summary: A generated package of realistic shape for the wheel-metadata benchmark",
        "Home-page: https://example.invalid/" + name, "Author: Bench Mark",
        "Author-email: bench@example.invalid", "License: MIT", "Requires-Python: >=3.8",
    ]
    head += ["Classifier: Programming Language :: Python :: 3.%d" % v for v in range(8, 14)]
    head += ["Classifier: Operating System :: OS Independent", "Classifier: License :: OSI Approved :: MIT License"]
    head += ["Requires-Dist: numpy>=1.22", "Requires-Dist: requests<3,>=2.28",
             "Requires-Dist: typing-extensions>=4.5; python_version < \"3.11\"",
             "Requires-Dist: pytest>=7; extra == \"test\"", "Requires-Dist: sphinx; extra == \"docs\"",
             "Provides-Extra: test", "Provides-Extra: docs", "Description-Content-Type: text/markdown", ""]
    body = []
    for p in range(24):
        body.append("## Section %d" % p if p % 6 == 0 else " ".join(rng.choice(WORDS) for _ in range(rng.randrange(20, 40))))
        body.append("")
    return ("\n".join(head + body) + "\n").encode()

def record_line(arc, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d\n" % (arc, digest, len(data))

def make(size, seed):
    rng = random.Random(seed)
    name = "benchwheel_" + label(size)
    binary = size > 2_000_000
    tag = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64" if binary else "py3-none-any"
    filename = "%s-1.0.0-%s.whl" % (name, tag)
    dist = "%s-1.0.0.dist-info/" % name
    meta = metadata(rng, name)
    # Pure Python up to 2 MB; beyond, 2 MB of modules plus a tenth of the rest, the remainder in
    # shared libraries of random bytes (they do not compress).
    text_budget = size if not binary else 2_000_000 + (size - 2_000_000) // 10
    fixed = 2600 + 22  # METADATA, WHEEL, top_level, entry_points compressed, and the end record
    members, used, i = [], fixed, 0
    while True:
        arc = "%s/%s/m%04d.py" % (name, "sub%02d" % (i // 60), i)
        data = module(rng, rng.randrange(15, 200) if size > 20_000 else rng.randrange(10, 40))
        cost = 30 + 46 + 2 * len(arc) + len(zlib.compress(data, 6)) + len(record_line(arc, data)) // 2
        if members and used + cost > text_budget:
            break
        members.append((arc, data, zipfile.ZIP_DEFLATED))
        used += cost
        i += 1
    if binary:
        rest, k = size - used, 0
        while rest > 4096:
            part = min(rest, 24_000_000)
            arc = "%s/_native%d.cpython-312-x86_64-linux-gnu.so" % (name, k)
            data = rng.randbytes(part - 30 - 46 - 2 * len(arc) - len(record_line(arc, b"")) // 2)
            members.append((arc, data, zipfile.ZIP_DEFLATED))
            rest -= part
            k += 1
    members += [
        (dist + "METADATA", meta, zipfile.ZIP_DEFLATED),
        (dist + "WHEEL", ("Wheel-Version: 1.0\nGenerator: bench (1.0)\nRoot-Is-Purelib: %s\nTag: %s\n"
                          % ("false" if binary else "true", tag)).encode(), zipfile.ZIP_DEFLATED),
        (dist + "entry_points.txt", ("[console_scripts]\n%s = %s.cli:main\n" % (name, name)).encode(), zipfile.ZIP_DEFLATED),
        (dist + "top_level.txt", (name + "\n").encode(), zipfile.ZIP_DEFLATED),
    ]
    record = "".join(record_line(arc, data) for arc, data, _ in members) + dist + "RECORD,,\n"
    members.append((dist + "RECORD", record.encode(), zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(os.path.join(folder, filename), "w") as z:
        for arc, data, method in members:
            info = zipfile.ZipInfo(arc, DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            z.writestr(info, data)

for n, size in enumerate(sizes):
    make(size, 1000 + n)

out = []
for filename in sorted(os.listdir(folder)):
    path = os.path.join(folder, filename)
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        meta = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        data = z.read(meta[0])
        # Central directory records: 46 bytes, name, extra, comment. METADATA's, from the end.
        lengths = [46 + len(i.orig_filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437")) + len(i.extra) + len(i.comment) for i in infos]
        at = names.index(meta[0])
        fromEnd = sum(lengths[at:])
    out.append(dict(filename=filename, size=os.path.getsize(path), entries=len(names),
                    metadataSha256=hashlib.sha256(data).hexdigest(), metadataBytes=len(data),
                    centralDirectoryBytes=sum(lengths), metadataRecordFromEnd=fromEnd))
print(json.dumps(out))
`;

interface WheelInfo {
  filename: string;
  size: number;
  entries: number;
  metadataSha256: string;
  metadataBytes: number;
  centralDirectoryBytes: number;
  /** Bytes from the start of METADATA's central directory record to the directory's end. */
  metadataRecordFromEnd: number;
}

interface MethodRun {
  requests: number;
  bytes: number;
  /** Median wall time over the repeats, ms. */
  ms: number;
  centralDirectory?: 'whole' | 'end';
  /** Whether every repeat transferred the same requests and bytes. */
  stable: boolean;
}

interface WheelRow {
  wheel: WheelInfo;
  real: boolean;
  runs: Record<WheelMetadataMethod, MethodRun>;
}

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)b?$/i.exec(text.trim());
  if (!m) throw new Error(`--sizes: "${text}" is not a size like 50k or 5m`);
  const unit = { '': 1, k: 1e3, m: 1e6 }[m[2]!.toLowerCase() as '' | 'k' | 'm'];
  return Math.round(Number(m[1]) * unit);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (part: number, whole: number) =>
  `${(part / whole) * 100 < 0.01 ? ((part / whole) * 100).toFixed(4) : ((part / whole) * 100).toFixed(2)}%`;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function refs(client: PypiClient, projects: string[]): Promise<Map<string, WheelFileRef>> {
  const out = new Map<string, WheelFileRef>();
  for (const project of projects) {
    const page = await client.getSimpleProject(project);
    for (const f of page.files) {
      out.set(f.filename, {
        url: f.url,
        filename: f.filename,
        sha256: f.sha256!,
        size: f.size,
        hasCoreMetadata: f.coreMetadata !== false,
        coreMetadataSha256: typeof f.coreMetadata === 'object' ? f.coreMetadata.sha256 : null,
      });
    }
  }
  return out;
}

async function measureMethod(
  client: PypiClient,
  ref: WheelFileRef,
  method: WheelMetadataMethod,
  repeat: number,
  tmpDir: string,
  expectedSha256: string,
): Promise<MethodRun> {
  const results: WheelMetadataResult[] = [];
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const result = await readWheelMetadata(client, ref, { tmpDir, methods: [method] });
    times.push(performance.now() - t0);
    if (result.method !== method)
      throw new Error(`${ref.filename}: asked for ${method}, got ${result.method}`);
    const got = sha256(result.metadata);
    if (got !== expectedSha256) {
      throw new Error(`${ref.filename}: ${method} read METADATA ${got}, zipfile reads ${expectedSha256}`);
    }
    results.push(result);
  }
  const first = results[0]!;
  return {
    requests: first.requests,
    bytes: first.bytesTransferred,
    ms: median(times),
    centralDirectory: first.centralDirectory,
    stable: results.every(
      (r) => r.requests === first.requests && r.bytesTransferred === first.bytesTransferred,
    ),
  };
}

function describe(row: WheelRow): string {
  const f = row.wheel.filename;
  if (row.real) return f.replace(/-py3-none-any\.whl$/, '').replace(/-/, ' ');
  const m = /^benchwheel_(\w+?)-/.exec(f);
  return `generated ${m?.[1] ?? f}${/manylinux/.test(f) ? ' (binary)' : ''}`;
}

/**
 * How the range path decided METADATA: from the end of the central directory in the tail, from
 * the whole directory in the tail (or the whole file), or from the whole directory after a second
 * read (the only way to 3 requests when the size is known and nothing is retried).
 */
function directoryRead(r: WheelRow): string {
  const tail = rangeTailBytes(r.wheel.size);
  if (r.runs.range.centralDirectory === 'end') return `end, in a ${int(tail)} B tail`;
  if (tail >= r.wheel.size) return 'whole, the whole file';
  return r.runs.range.requests >= 3
    ? `whole, tail of ${int(tail)} B + the rest`
    : `whole, in a ${int(tail)} B tail`;
}

const cell = (run: MethodRun, size: number) =>
  `${run.requests} / ${int(run.bytes)} / ${pct(run.bytes, size)} / ${fixed(run.ms, 1)}`;

interface Verdict {
  text: string;
  met: boolean;
}

function verdicts(rows: WheelRow[]): Verdict[] {
  const out: Verdict[] = [];
  // Target 1: the PEP 658 path transfers the metadata file and nothing more.
  const pepExtra = rows.filter(
    (r) => r.runs.pep658.requests !== 1 || r.runs.pep658.bytes !== r.wheel.metadataBytes,
  );
  const pepRatios = rows.map((r) => r.runs.pep658.bytes / r.runs.download.bytes);
  out.push({
    met: pepExtra.length === 0,
    text:
      `PEP 658 path transfers the metadata file and nothing more: ${pepExtra.length === 0 ? '**met**' : '**not met**'} — ` +
      `on all ${rows.length} wheels 1 request of exactly the METADATA bytes ` +
      `(${int(Math.min(...rows.map((r) => r.wheel.metadataBytes)))}–${int(Math.max(...rows.map((r) => r.wheel.metadataBytes)))} B), ` +
      `${pct(Math.min(...pepRatios), 1)}–${pct(Math.max(...pepRatios), 1)} of the full download` +
      (pepExtra.length > 0 ? `; extra bytes or requests on ${pepExtra.map(describe).join(', ')}` : '') +
      '.',
  });
  // Target 2: the range path transfers under 1% of the full download for every wheel over 1 MB.
  const big = rows.filter((r) => r.wheel.size > ONE_MB);
  const ratio = (r: WheelRow) => r.runs.range.bytes / r.runs.download.bytes;
  const over = big.filter((r) => ratio(r) >= 0.01);
  const worst = [...big].sort((a, b) => ratio(b) - ratio(a))[0];
  const under = big.filter((r) => ratio(r) < 0.01);
  const worstUnder = [...under].sort((a, b) => ratio(b) - ratio(a))[0];
  out.push({
    met: over.length === 0,
    text:
      `Range path under 1% of the full download for every wheel over 1 MB: ${over.length === 0 ? '**met**' : '**not met**'} — ` +
      (over.length === 0 && worst
        ? `worst ${describe(worst)} at ${pct(ratio(worst), 1)} (${fixed(0.01 / ratio(worst), 1)}× under the target)`
        : `${over.map((r) => `${describe(r)} at ${pct(ratio(r), 1)} (${fixed(ratio(r) / 0.01, 2)}× the target; its central directory is decided ${r.runs.range.centralDirectory === 'whole' ? 'only whole: `.dist-info/` is not at its end' : 'from its end'})`).join(', ')}` +
          (worstUnder
            ? `; the other ${under.length} are under it, worst ${describe(worstUnder)} at ${pct(ratio(worstUnder), 1)}`
            : '')) +
      '.',
  });
  // Target 3: at most 3 requests for a typical wheel.
  const maxRequests = Math.max(...rows.map((r) => r.runs.range.requests));
  const counts = new Map<number, string[]>();
  for (const r of rows)
    counts.set(r.runs.range.requests, [...(counts.get(r.runs.range.requests) ?? []), describe(r)]);
  out.push({
    met: maxRequests <= 3,
    text:
      `Range path at most 3 requests for a typical wheel: ${maxRequests <= 3 ? '**met**' : '**not met**'} — ` +
      [...counts.entries()]
        .sort(([a], [b]) => a - b)
        .map(([n, names]) => `${n} request${n === 1 ? '' : 's'}: ${names.join(', ')}`)
        .join('; ') +
      ` (the full download: 1 request of the whole wheel).`,
  });
  return out;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '5k,50k,500k,5m,25m,120m' },
      repeat: { type: 'string', default: '3' },
      doc: { type: 'string', default: 'docs/benchmarks.md' },
      'no-doc': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const sizes = values.sizes
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(parseSize);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`--repeat: "${values.repeat}" is not a positive integer`);
  const command = ['pnpm bench wheels', ...args].join(' ');
  const date = new Date();
  const machine = machineFacts();

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pypi-graph-bench-wheels-'));
  const folder = path.join(tmp, 'index');
  const tmpDir = path.join(tmp, 'downloads');
  await mkdir(folder);
  await mkdir(tmpDir);
  const rows: WheelRow[] = [];
  let python = 'unknown';
  try {
    for (const f of REAL)
      await copyFile(path.join(REPO_ROOT, 'test/fixtures/index/real', f), path.join(folder, f));
    progress(`generating wheels of ${sizes.map(int).join(', ')} bytes in ${folder}`);
    const exec = promisify(execFile);
    python = (await exec('python3', ['--version'])).stdout.trim();
    const { stdout } = await exec('python3', ['-c', GENERATE, folder, sizes.join(',')], {
      maxBuffer: 16 << 20,
    });
    const wheels = JSON.parse(stdout) as WheelInfo[];

    const server = await startPypiServer({ dir: folder });
    const client = createPypiClient(
      loadConfig({ PYPI_URL: server.url, HTTP_RPS_PER_HOST: '0', LOG_LEVEL: 'silent' }),
    );
    try {
      const byName = await refs(
        client,
        server.index.projectList.map((p) => p.normalized),
      );
      for (const wheel of wheels.sort((a, b) => a.size - b.size)) {
        const ref = byName.get(wheel.filename);
        if (!ref) throw new Error(`${wheel.filename} is not in the index`);
        if (!ref.hasCoreMetadata) throw new Error(`${wheel.filename}: the server serves no .metadata file`);
        const runs = {} as Record<WheelMetadataMethod, MethodRun>;
        for (const method of METHODS) {
          runs[method] = await measureMethod(client, ref, method, repeat, tmpDir, wheel.metadataSha256);
        }
        if ((await readdir(tmpDir)).length > 0) throw new Error('a download was left behind');
        const row = { wheel, real: REAL.includes(wheel.filename), runs };
        rows.push(row);
        progress(
          `${describe(row)}: ${int(wheel.size)} B, ${METHODS.map((m) => `${m} ${runs[m].requests} req ${int(runs[m].bytes)} B ${fixed(runs[m].ms, 1)} ms`).join(', ')}`,
        );
      }
    } finally {
      await client.close();
      await server.close();
    }
  } finally {
    if (values.keep) progress(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  }

  const headers = [
    'wheel',
    'size, B',
    'entries',
    'central directory, B (METADATA record from its end)',
    'PEP 658: req / B / % / ms',
    'range: req / B / % / ms',
    'range: central directory',
    'download: req / B / % / ms',
    'range ÷ download',
  ];
  const align: Array<'l' | 'r'> = ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r'];
  const table = rows.map((r) => [
    describe(r),
    int(r.wheel.size),
    int(r.wheel.entries),
    `${int(r.wheel.centralDirectoryBytes)} (${int(r.wheel.metadataRecordFromEnd)})`,
    cell(r.runs.pep658, r.wheel.size),
    cell(r.runs.range, r.wheel.size),
    directoryRead(r),
    cell(r.runs.download, r.wheel.size),
    pct(r.runs.range.bytes, r.runs.download.bytes),
  ]);
  const unstable = rows.flatMap((r) =>
    METHODS.filter((m) => !r.runs[m].stable).map((m) => `${describe(r)} ${m}`),
  );
  const results = verdicts(rows);
  const loadAfter = loadAverage();

  const out: string[] = [];
  out.push(`## ${HEADING}`, '');
  out.push(
    `\`${command}\` — ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GiB RAM, ${machine.kernel}, ` +
      `Node ${machine.node}, ${python}; code at ${gitRevision()}; load average ${machine.loadAverage} before, ${loadAfter} after.`,
    '',
    'Each wheel is served by the local PyPI server (`startPypiServer({ dir })`, in the same process) and its ' +
      "METADATA read with `readWheelMetadata` (packages/extractor) by one method at a time: `methods: ['pep658']`, " +
      "`['range']`, `['download']`, through one `createPypiClient` (`HTTP_RPS_PER_HOST=0`). Requests and bytes " +
      'are the response bodies the call received (its `TrafficMeter`: retries and HEADs included); % is of the ' +
      `wheel's size; ms is the median wall time of ${repeat} runs (loopback: it measures our processing, not a ` +
      "network). The three METADATA files are checked byte for byte against what CPython's `zipfile` reads. " +
      'The baseline is the full download (`range ÷ download`). The range path reads a tail of 0.5% of the wheel ' +
      '(4–64 KiB; whole up to 8 KiB) and decides METADATA from the end of the central directory when it can ' +
      '(`end`), else reads the rest of the directory (`whole`); packages/extractor/readme.md explains the choice.',
    '',
    'Wheels: the three real ones of `test/fixtures/index/real/` (pip and setuptools 65.5.0 write `.dist-info/` ' +
      'last; setuptools 66.1.1 sorts its entries by name, so `.dist-info/` sits in the middle of its central ' +
      'directory), and wheels generated for this run (Python standard library, deterministic): modules of ' +
      'code-like text, above 2 MB shared libraries of random bytes (incompressible: the sizes are real), ' +
      '`.dist-info/` last with a METADATA of about 5 KB and a RECORD of every file.',
    '',
    markdownTable(headers, table, align),
    '',
    ...results.map((v) => `- ${v.text}`),
  );
  for (const r of rows.filter(
    (row) => row.runs.range.centralDirectory === 'whole' && row.runs.range.requests >= 3,
  )) {
    const w = r.wheel;
    out.push(
      '',
      `${describe(r)}: METADATA's central directory record starts ${int(w.metadataRecordFromEnd)} B before the end ` +
        `of a ${int(w.centralDirectoryBytes)} B directory, beyond the ${int(rangeTailBytes(w.size))} B tail, so the ` +
        `rest of the directory is read before METADATA: the directory alone is ${pct(w.centralDirectoryBytes, w.size)} ` +
        "of the wheel. A range reader must see every record after METADATA's (a later copy of the name is the one " +
        `zipfile reads), that is at least ${int(w.metadataRecordFromEnd)} B (${pct(w.metadataRecordFromEnd, w.size)}) ` +
        'plus METADATA itself, so no range strategy gets this layout under 1%; its PEP 658 file is the cheap way.',
    );
  }
  if (unstable.length > 0)
    out.push('', `Requests or bytes differed between repeats for: ${unstable.join(', ')}.`);
  const section = out.join('\n');

  process.stdout.write(
    `${textTable(headers, table, align)}\n\n${results.map((v) => `- ${v.text}`).join('\n')}\n`,
  );
  if (!values['no-doc']) {
    await writeDocSection(path.resolve(REPO_ROOT, values.doc), HEADING, section);
    progress(`wrote "## ${HEADING}" in ${values.doc}`);
  }
  // A target missed is a finding written above, not a failure of the benchmark.
  return 0;
}
