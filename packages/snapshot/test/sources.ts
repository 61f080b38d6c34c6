// Sources of test snapshots, shared by the tests and the child process of crash.test.ts.
import { createHash } from 'node:crypto';
import { bucketOf, machNixName } from '@pypi-graph/pyspec';
import type { PypiProject, SnapshotMeta, SnapshotSource } from '../src/index';

export const META: SnapshotMeta = { serial: 4242, unixTimestamp: 1_700_000_000 };

export function projects(n: number, extra = ''): PypiProject[] {
  return Array.from({ length: n }, (_, i) => ({
    name: i % 3 === 0 ? `Pkg_${i}${extra}` : `pkg.${i}${extra}`,
    releases: [
      {
        version: String(i % 7),
        files: [
          {
            filename: `pkg-${i}.tar.gz`,
            packagetype: 'sdist',
            pythonVersion: 'source',
            sha256Hex: createHash('sha256').update(`s${i}`).digest('hex'),
          },
          {
            filename: `pkg-${i}-py3-none-any.whl`,
            packagetype: 'bdist_wheel',
            pythonVersion: 'py3',
            sha256Hex: createHash('sha256').update(`w${i}`).digest('hex'),
          },
        ],
      },
      { version: 'x', files: [] },
    ],
  }));
}

/** An in-memory source; `onBucket` runs before a bucket is yielded (to abort or fail mid-way). */
export function memorySource(
  items: PypiProject[],
  meta: SnapshotMeta = META,
  onBucket?: (bucket: string) => void,
): SnapshotSource {
  const byBucket = new Map<string, PypiProject[]>();
  for (const p of items) {
    const b = bucketOf(machNixName(p.name));
    byBucket.set(b, [...(byBucket.get(b) ?? []), p]);
  }
  return {
    meta: async () => meta,
    async *pypiProjects(bucket: string) {
      onBucket?.(bucket);
      // a different order than published, to show the publisher sorts
      yield* [...(byBucket.get(bucket) ?? [])].reverse();
    },
  };
}
