// A deterministic in-memory snapshot source over every layout, with tokens, shared by the
// incremental tests and the process they kill (kill-child.ts).
import { createHash } from 'node:crypto';
import type { SdistProject, SdistResult } from '@pypi-graph/model';
import { bucketOf, machNixName } from '@pypi-graph/pyspec';
import type { PypiProject, SnapshotMeta, SnapshotSource, WheelProject } from '../src/index';

export interface KillProject {
  index: number;
  /** Bumped by every change: the project's token. */
  version: number;
  key: string;
  pypi: PypiProject;
  wheel: WheelProject;
  sdist: SdistProject;
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** Project `i` after `version` changes: one more release per change. */
export function projectAt(i: number, version: number): KillProject {
  const name = i % 3 === 0 ? `Proj_${i}` : i % 3 === 1 ? `proj.${i}` : `proj-${i}`;
  const releases = Array.from({ length: (i % 4) + 1 + version }, (_, r) => `${r}.${i % 5}`);
  const deps = (r: number) => Array.from({ length: (i + r) % 4 }, (_, d) => `dep${(i * 7 + d) % 50}>=${r}`);
  return {
    index: i,
    version,
    key: machNixName(name),
    pypi: {
      name,
      releases: releases.map((v) => ({
        version: v,
        files: [
          {
            filename: `${name}-${v}.tar.gz`,
            packagetype: 'sdist',
            pythonVersion: 'source',
            sha256Hex: hex(`s${i}/${v}`),
          },
          {
            filename: `${name}-${v}-py3-none-any.whl`,
            packagetype: 'bdist_wheel',
            pythonVersion: 'py3',
            sha256Hex: hex(`w${i}/${v}`),
          },
        ],
      })),
    },
    wheel: {
      name,
      wheels: releases.map((v, r) => ({
        version: v,
        filename: `${name}-${v}-py3-none-any.whl`,
        pythonVersion: 'py3',
        requiresDist: deps(r),
        requiresPython: r % 2 ? '>=3.8' : null,
        providesExtras: [],
        requiresExternal: [],
      })),
    },
    sdist: {
      name,
      releases: releases.map((v, r) => ({
        version: v,
        results: new Map<string, SdistResult>([
          [
            '27',
            i % 5 === 0 ? { ok: { install_requires: deps(r) } } : { error: 'SyntaxError: invalid syntax' },
          ],
          ['38', { ok: { install_requires: deps(r) } }],
          ['311', { ok: { install_requires: deps(r), python_requires: ['>=3.8'] } }],
        ]),
      })),
    },
  };
}

type Kind = 'pypi' | 'wheel' | 'sdist';

export function killSource(
  list: () => KillProject[],
  meta: () => SnapshotMeta,
  version: string,
  onAsk?: (kind: Kind, keys: readonly string[] | undefined) => void,
  onBucket?: (bucket: string) => Promise<void>,
): SnapshotSource {
  const of = (bucket: string, keys: readonly string[] | undefined) => {
    const wanted = keys ? new Set(keys) : undefined;
    return list().filter((p) => bucketOf(p.key) === bucket && (!wanted || wanted.has(p.key)));
  };
  return {
    version,
    meta: async () => meta(),
    async bucketTokens(bucket) {
      return new Map(of(bucket, undefined).map((p) => [p.key, `${p.index}.${p.version}`]));
    },
    async *pypiProjects(bucket, keys) {
      await onBucket?.(bucket);
      onAsk?.('pypi', keys);
      for (const p of of(bucket, keys)) yield p.pypi;
    },
    async *wheelProjects(bucket, keys) {
      onAsk?.('wheel', keys);
      for (const p of of(bucket, keys)) yield p.wheel;
    },
    async *sdistProjects(bucket, keys) {
      onAsk?.('sdist', keys);
      for (const p of of(bucket, keys)) yield p.sdist;
    },
  };
}
