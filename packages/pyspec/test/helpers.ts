import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import type { MarkerEnvironment } from '../src/index';

const ORACLE = join(import.meta.dirname, 'oracle', 'packaging_oracle.py');

/**
 * Runs the Python oracle once with every input (`{ mode: input }`) and returns its answers. Needs
 * `python3` with packaging >= 26 on PATH; fails loudly otherwise, as a skipped cross-check would
 * prove nothing.
 */
export function runOracle<T>(request: Record<string, unknown>): T {
  const r = spawnSync('python3', [ORACLE], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) {
    throw new Error(
      `the packaging oracle failed (python3 with packaging >= 26 needed): ${r.error ?? r.stderr}`,
    );
  }
  return JSON.parse(r.stdout) as T;
}

/** A small seeded PRNG (mulberry32), so every run generates the same inputs. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof rng>;

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir).map((d) => join(dir, d));
  } catch {
    return [];
  }
}

/** The METADATA / PKG-INFO files of the Python installations on this machine. */
export function installedMetadataFiles(): string[] {
  const sitePackages = [
    ...listDirs(join(homedir(), '.pyenv', 'versions')).flatMap((v) =>
      listDirs(join(v, 'lib'))
        .filter((d) => /python[0-9.]+$/.test(d))
        .map((d) => join(d, 'site-packages')),
    ),
    '/usr/lib/python3/dist-packages',
  ];
  const files: string[] = [];
  for (const dir of sitePackages) {
    for (const entry of listDirs(dir)) {
      if (entry.endsWith('.dist-info') && existsSync(join(entry, 'METADATA')))
        files.push(join(entry, 'METADATA'));
      if (entry.endsWith('.egg-info') && existsSync(join(entry, 'PKG-INFO')))
        files.push(join(entry, 'PKG-INFO'));
    }
  }
  return files.sort();
}

/** Every `Requires-Dist` line of those files, de-duplicated. */
export function installedRequirements(): string[] {
  const lines = new Set<string>();
  for (const file of installedMetadataFiles()) {
    for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
      if (line === '') break;
      const m = /^Requires-Dist:[ \t]*(.*?)[ \t]*$/i.exec(line);
      if (m) lines.add(m[1]!);
    }
  }
  return [...lines];
}

/** Calls `fn`; if it throws, the error must be a CrawlError with one of `codes`. */
export function expectOnlyCrawlErrors(
  fn: () => unknown,
  codes: readonly FailureCode[],
  input: unknown,
): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof CrawlError) || !codes.includes(err.code)) {
      throw new Error(
        `unexpected ${err instanceof CrawlError ? err.code : String(err)} for ${JSON.stringify(input)}`,
        {
          cause: err,
        },
      );
    }
  }
}

/** The marker environments the cross-checks evaluate on. */
export const ENVIRONMENTS: Record<string, MarkerEnvironment> = {
  'py2.7 linux': {
    implementation_name: '',
    implementation_version: '0',
    os_name: 'posix',
    platform_machine: 'x86_64',
    platform_release: '5.15.0-91-generic',
    platform_system: 'Linux',
    platform_version: '#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023',
    python_full_version: '2.7.18',
    platform_python_implementation: 'CPython',
    python_version: '2.7',
    sys_platform: 'linux2',
  },
  'py3.6 win32': {
    implementation_name: 'cpython',
    implementation_version: '3.6.15',
    os_name: 'nt',
    platform_machine: 'AMD64',
    platform_release: '10',
    platform_system: 'Windows',
    platform_version: '10.0.19041',
    python_full_version: '3.6.15',
    platform_python_implementation: 'CPython',
    python_version: '3.6',
    sys_platform: 'win32',
  },
  'py3.13 darwin': {
    implementation_name: 'cpython',
    implementation_version: '3.13.0rc1',
    os_name: 'posix',
    platform_machine: 'arm64',
    platform_release: '23.1.0',
    platform_system: 'Darwin',
    platform_version: 'Darwin Kernel Version 23.1.0',
    python_full_version: '3.13.0+',
    platform_python_implementation: 'CPython',
    python_version: '3.13',
    sys_platform: 'darwin',
  },
};

/** Extras each marker is evaluated with ('' = none). */
export const EXTRAS = ['', 'test', 'Foo.Bar', 'foo_bar', 'SECURITY'];
