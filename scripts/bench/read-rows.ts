// The snapshot's database reads without writing anything: every bucket's rows as the snapshot
// source reads them (pypiBucket, wheelBucket, sdistBucket), counted and dropped. Run by
// `pnpm bench index` as its own measured process, as the baseline of `pnpm snapshot`; prints one
// JSON line.
//   node --import tsx scripts/bench/read-rows.ts (--database-url URL | --pglite DIR)
import { parseArgs } from 'node:util';
import { openDatabase, pypiBucket, sdistBucket, snapshotMeta, wheelBucket } from '@pypi-graph/db';
import { ALL_BUCKETS } from '@pypi-graph/pyspec';

const { values } = parseArgs({
  options: { 'database-url': { type: 'string' }, pglite: { type: 'string' } },
  strict: true,
});
const database = await openDatabase({ databaseUrl: values['database-url'], pglitePath: values.pglite });
try {
  const t0 = performance.now();
  await snapshotMeta(database.db);
  let projects = 0;
  let files = 0;
  for (const bucket of ALL_BUCKETS) {
    for (const project of await pypiBucket(database.db, bucket)) {
      projects++;
      for (const release of project.releases) files += release.files.length;
    }
    // The dependency layouts' rows (wheel/, sdist/, sdist-errors/): read, not counted as files.
    await wheelBucket(database.db, bucket);
    await sdistBucket(database.db, bucket);
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ projects, files, seconds })}\n`);
} finally {
  await database.close();
}
