import { createHash } from 'node:crypto';
import { configError } from '@pypi-graph/core';
import { type CoreMetadata, parseCoreMetadata } from '@pypi-graph/pyspec';
import { type ArchiveEntry, gzipStored, tarArchive, wheelArchive, zipArchive } from './archive-writers';
import type { FileContent, FileStat, ReleaseDirective, UploadSpec } from './index-model';
import { statOf } from './index-model';
import { WeightedLru } from './lru';
import { releaseKey } from './manifest';
import { parseIsoMicros } from './times';

// A generated index for scale tests and benchmarks: N projects × M files, decided entirely by
// the seed. Nothing is written to disk and nothing is hashed up front: a file's bytes (a small
// but valid sdist or wheel, optionally padded with a pseudo-random payload) are built when a
// project page or the file itself is first asked for, so 20,000 projects start in well under
// a second; the same seed always yields the same bytes, hence the same sha256.

export interface SyntheticOptions {
  /** Number of projects. */
  projects: number;
  /** Files per project, spread over releases of one sdist and one wheel each. */
  filesPerProject: number;
  /** Seed of every choice (names, versions, yanks, dependencies, payload bytes). */
  seed: number;
  /** Extra pseudo-random bytes stored in every archive, to make downloads heavier. */
  payloadBytes: number;
}

/** Parses `projects=N,files-per-project=M[,seed=S][,payload-bytes=B]`. */
export function parseSyntheticSpec(spec: string): SyntheticOptions {
  const values = new Map<string, number>();
  for (const part of spec.split(',').filter(Boolean)) {
    const [key, value] = part.split('=', 2).map((s) => s.trim());
    if (!key || value === undefined || !/^\d+$/.test(value)) {
      throw configError('config-invalid', `--synthetic: "${part}" is not key=<integer>`);
    }
    values.set(key, Number(value));
  }
  const known = new Set(['projects', 'files-per-project', 'seed', 'payload-bytes']);
  for (const key of values.keys()) {
    if (!known.has(key)) throw configError('config-invalid', `--synthetic: unknown key "${key}"`);
  }
  const projects = values.get('projects');
  const filesPerProject = values.get('files-per-project');
  if (!projects || !filesPerProject) {
    throw configError('config-invalid', '--synthetic needs projects=N and files-per-project=M (both > 0)');
  }
  return {
    projects,
    filesPerProject,
    seed: values.get('seed') ?? 1,
    payloadBytes: values.get('payload-bytes') ?? 0,
  };
}

/** Synthetic uploads start here, after the default times of a served folder. */
const SYNTHETIC_EPOCH_US = parseIsoMicros('2021-01-01T00:00:00Z')!;
/** Seconds between two synthetic uploads. */
const UPLOAD_STEP_US = 10_000_000;

const WORDS = [
  'alpha',
  'beta',
  'gamma',
  'delta',
  'flux',
  'quantum',
  'lib',
  'py',
  'tool',
  'data',
  'net',
  'core',
  'web',
  'async',
  'json',
  'crypto',
  'zope',
  'django',
  'flask',
  'numpy',
  'lazy',
  'fast',
  'tiny',
  'meta',
];
const PYTHON_REQUIRES = [null, '>=3.6', '>=3.7', '>=3.8', '>=3.8,<4', '>=2.7, !=3.0.*, !=3.1.*'];
const WHEEL_TAGS: Array<[string, string]> = [
  ['py3', 'py3-none-any'],
  ['py2.py3', 'py2.py3-none-any'],
  ['cp311', 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64'],
  ['cp312', 'cp312-cp312-win_amd64'],
];

// splitmix32 over a running state: a fast, well-mixed, reproducible stream.
function rng(...keys: number[]): () => number {
  let s = 0x9e3779b9;
  for (const k of keys) s = Math.imul(s ^ (k >>> 0), 0x85ebca6b) ^ (s >>> 13);
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 0x100000000;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);

interface SynthProject {
  index: number;
  name: string;
  module: string;
  releases: SynthRelease[];
}

interface SynthRelease {
  version: string;
  requiresPython: string | null;
  requiresDist: string[];
  files: SynthFile[];
}

interface SynthFile {
  filename: string;
  kind: 'tar.gz' | 'zip' | 'wheel';
  pythonVersion: string;
}

function projectName(index: number, r: () => number): string {
  const a = pick(r, WORDS);
  const b = pick(r, WORDS);
  switch (index % 4) {
    case 0:
      return `${a}-${b}-${index}`;
    case 1:
      return `${cap(a)}_${cap(b)}_${index}`;
    case 2:
      return `${a}.${b}.${index}`;
    default:
      return `${cap(a)}${cap(b)}${index}`;
  }
}

function planProject(opts: SyntheticOptions, index: number, names: string[]): SynthProject {
  const r = rng(opts.seed, index);
  const name = names[index]!;
  const module = name.toLowerCase().replace(/[-.]/g, '_');
  const escaped = name.replace(/[-_.]+/g, '_');
  const releaseCount = Math.ceil(opts.filesPerProject / 2);
  const releases: SynthRelease[] = [];
  for (let k = 0; k < releaseCount; k++) {
    let version = `${Math.floor(k / 3) + 1}.${k % 3}.0`;
    if (k === releaseCount - 1 && releaseCount > 1 && r() < 0.15) version += 'rc1';
    const deps = new Set<string>();
    const depCount = index === 0 ? 0 : Math.floor(r() * 4);
    for (let d = 0; d < depCount; d++) deps.add(names[Math.floor(r() * index)]!);
    const requiresDist = [...deps].map((dep, d) =>
      d === 0 ? `${dep}>=1.0` : d === 1 ? `${dep}; python_version < "3.8"` : dep,
    );
    const files: SynthFile[] = [];
    const slots = Math.min(2, opts.filesPerProject - 2 * k);
    for (let slot = 0; slot < slots; slot++) {
      if (slot === 0 && r() >= 0.1) {
        const kind = r() < 0.85 ? 'tar.gz' : 'zip';
        files.push({ filename: `${escaped}-${version}.${kind}`, kind, pythonVersion: 'source' });
      } else {
        let tag = pick(r, WHEEL_TAGS);
        const wheelName = (t: [string, string]) => `${escaped}-${version}-${t[1]}.whl`;
        if (files.some((f) => f.filename === wheelName(tag)))
          tag = WHEEL_TAGS[(WHEEL_TAGS.indexOf(tag) + 1) % 4]!;
        files.push({ filename: wheelName(tag), kind: 'wheel', pythonVersion: tag[0] });
      }
    }
    releases.push({ version, requiresPython: pick(r, PYTHON_REQUIRES), requiresDist, files });
  }
  return { index, name, module, releases };
}

function metadataText(p: SynthProject, rel: SynthRelease, metadataVersion: string): Buffer {
  const lines = [
    `Metadata-Version: ${metadataVersion}`,
    `Name: ${p.name}`,
    `Version: ${rel.version}`,
    `Summary: Synthetic project ${p.index} generated by pypi-graph's pypi-server`,
    'License: MIT',
  ];
  if (rel.requiresPython) lines.push(`Requires-Python: ${rel.requiresPython}`);
  for (const dep of rel.requiresDist) lines.push(`Requires-Dist: ${dep}`);
  return Buffer.from(`${lines.join('\n')}\n\n${p.name} ${rel.version}\n`, 'utf8');
}

function payload(opts: SyntheticOptions, p: SynthProject, filename: string): Buffer {
  const out = Buffer.alloc(opts.payloadBytes);
  let seed = createHash('sha256').update(`${opts.seed}/${p.index}/${filename}`).digest();
  for (let off = 0; off < out.length; off += 32) {
    seed = createHash('sha256').update(seed).digest();
    seed.copy(out, off, 0, Math.min(32, out.length - off));
  }
  return out;
}

function buildFile(opts: SyntheticOptions, p: SynthProject, rel: SynthRelease, f: SynthFile): Buffer {
  const init = Buffer.from(
    `# ${p.name} ${rel.version} (synthetic)\n__version__ = ${JSON.stringify(rel.version)}\n`,
  );
  const data = opts.payloadBytes > 0 ? payload(opts, p, f.filename) : undefined;
  if (f.kind === 'wheel') {
    const distInfo = `${p.name.replace(/[-_.]+/g, '_')}-${rel.version}.dist-info`;
    const files: ArchiveEntry[] = [
      { path: `${p.module}/__init__.py`, data: init },
      ...(data ? [{ path: `${p.module}/_payload.bin`, data }] : []),
    ];
    const tag = f.filename.split('-').slice(-3).join('-').slice(0, -4);
    return wheelArchive(files, distInfo, metadataText(p, rel, '2.1'), tag, true);
  }
  const top = f.filename.slice(0, f.kind === 'zip' ? -4 : -7);
  const setupPy = Buffer.from(
    `from setuptools import setup\n\nsetup(\n    name=${JSON.stringify(p.name)},\n    version=${JSON.stringify(rel.version)},\n` +
      `    packages=[${JSON.stringify(p.module)}],\n    install_requires=${JSON.stringify(rel.requiresDist)},\n` +
      (rel.requiresPython ? `    python_requires=${JSON.stringify(rel.requiresPython)},\n` : '') +
      ')\n',
  );
  const entries: ArchiveEntry[] = [
    { path: `${top}/PKG-INFO`, data: metadataText(p, rel, '2.1') },
    { path: `${top}/setup.py`, data: setupPy },
    { path: `${top}/${p.module}/__init__.py`, data: init },
    ...(data ? [{ path: `${top}/${p.module}/_payload.bin`, data }] : []),
  ];
  return f.kind === 'zip' ? zipArchive(entries) : gzipStored(tarArchive(entries));
}

/** Builds (and caches) the bytes of synthetic files. */
class Generator {
  // Recently built archives, up to a byte budget (Range requests re-read the same file).
  private readonly cache = new WeightedLru<string, Buffer>(64 * 1024 * 1024);
  constructor(readonly opts: SyntheticOptions) {}
  bytes(p: SynthProject, rel: SynthRelease, f: SynthFile): Buffer {
    return this.cache.getOrSet(
      f.filename,
      () => buildFile(this.opts, p, rel, f),
      (b) => b.length,
    );
  }
}

// One small object per file, with its methods on the prototype: at 100,000 files, a closure
// per method and file would cost hundreds of megabytes.
class SyntheticContent implements FileContent {
  private statCache?: FileStat;
  constructor(
    private readonly generator: Generator,
    private readonly project: SynthProject,
    private readonly release: SynthRelease,
    private readonly file: SynthFile,
  ) {}

  async stat(): Promise<FileStat> {
    this.statCache ??= statOf(this.generator.bytes(this.project, this.release, this.file));
    return this.statCache;
  }

  async read(start: number, end: number): Promise<Buffer> {
    return this.generator.bytes(this.project, this.release, this.file).subarray(start, end);
  }

  async metadataBytes(): Promise<Buffer | undefined> {
    return metadataText(this.project, this.release, '2.1');
  }

  async metadata(): Promise<CoreMetadata | undefined> {
    return parseCoreMetadata(metadataText(this.project, this.release, '2.1'));
  }
}

export interface SyntheticIndexInput {
  uploads: UploadSpec[];
  releases: Map<string, ReleaseDirective>;
}

/** Plans the synthetic index. Cheap: no archive is built until it is asked for. */
export function generateSynthetic(opts: SyntheticOptions): SyntheticIndexInput {
  const names: string[] = [];
  for (let i = 0; i < opts.projects; i++) names.push(projectName(i, rng(opts.seed, i, 0x6e616d65)));
  const uploads: UploadSpec[] = [];
  const releases = new Map<string, ReleaseDirective>();
  const plans: SynthProject[] = [];
  for (let i = 0; i < opts.projects; i++) plans.push(planProject(opts, i, names));

  // Uploads interleave projects release by release, ten seconds apart, like a busy index.
  const generator = new Generator(opts);
  let g = 0;
  const maxReleases = Math.ceil(opts.filesPerProject / 2);
  for (let k = 0; k < maxReleases; k++) {
    for (const p of plans) {
      const rel = p.releases[k];
      if (!rel) continue;
      for (const f of rel.files) {
        uploads.push({
          filename: f.filename,
          name: p.name,
          version: rel.version,
          uploadTimeUs: SYNTHETIC_EPOCH_US + g++ * UPLOAD_STEP_US,
          packagetype: f.kind === 'wheel' ? 'bdist_wheel' : 'sdist',
          pythonVersion: f.pythonVersion,
          requiresPython: rel.requiresPython,
          hasMetadataFile: f.kind === 'wheel',
          content: new SyntheticContent(generator, p, rel, f),
        });
      }
      // About one release in twenty is yanked, half of them with a reason.
      const r = rng(opts.seed, p.index, k, 0x79616e6b);
      if (r() < 0.05)
        releases.set(releaseKey(p.name, rel.version), { yanked: r() < 0.5 ? 'synthetic yank' : true });
    }
  }
  return { uploads, releases };
}
