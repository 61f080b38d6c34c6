// `pnpm bench scale`'s reconcile row: what `crawl --resume` runs first (packages/pipeline
// reconcile(): pending projects and current files without a result, paged through the database),
// in a process of its own so that its peak RSS is its own, with an enqueue that only counts (the
// real one would start the crawl's work). Prints the counts as JSON.
// Usage: DATABASE_URL=… node --import tsx scripts/bench/reconcile-probe.ts
import { openDatabase } from '@pypi-graph/db';
import { reconcile } from '@pypi-graph/pipeline';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const database = await openDatabase({ databaseUrl: url });
try {
  let enqueued = 0;
  const result = await reconcile(
    database.db,
    async () => {
      enqueued++;
      return true;
    },
    { wheels: true, sdists: true },
  );
  process.stdout.write(`${JSON.stringify({ ...result, enqueued })}\n`);
} finally {
  await database.close();
}
