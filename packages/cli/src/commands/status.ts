import {
  countPendingProjects,
  failuresByCode,
  getCrawlState,
  lastRefresh,
  latestSnapshot,
  sandboxOverview,
  storeCounts,
} from '@pypi-graph/db';
import { BullmqRunner, SDIST_EXTRACTOR_VERSION } from '@pypi-graph/pipeline';
import type { App } from '../app';
import { createRunner } from '../app';

export async function status(app: App): Promise<string> {
  const counts = await storeCounts(app.db);
  const serial = await getCrawlState(app.db, 'changelog');
  const failures = await failuresByCode(app.db);
  const snap = await latestSnapshot(app.db);
  const out = [
    `database:  ${app.database.kind}`,
    `projects:  ${counts.projects} (${counts.projectsRemoved} removed)`,
    `releases:  ${counts.releases}`,
    `files:     ${counts.files} (${counts.filesRemoved} removed)`,
    `changelog: ${counts.changelogRows} rows stored, crawled up to serial ${serial ?? 'none'}`,
    `pending:   ${await countPendingProjects(app.db)} projects asked for by the changelog and not crawled yet`,
  ];
  try {
    const last = await app.api.changelogLastSerial();
    out.push(`index:     last serial ${last}${serial !== undefined ? `, ${last - serial} behind` : ''}`);
  } catch (err) {
    out.push(`index:     unreachable (${(err as Error).message})`);
  }
  if (app.config.redisUrl) {
    const runner = createRunner(app, { work: false });
    try {
      if (runner instanceof BullmqRunner) {
        for (const [q, c] of Object.entries(await runner.counts())) {
          out.push(
            `queue ${q}: ${Object.entries(c)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`,
          );
        }
      }
    } finally {
      await runner.close();
    }
  }
  out.push(`failures:  ${failures.length === 0 ? 'none' : ''}`);
  for (const f of failures) out.push(`  ${f.code}: ${f.count}  e.g. ${f.example}`);
  out.push(...(await sandboxLines(app)));
  const refresh = await lastRefresh(app.db);
  if (refresh) {
    const took = refresh.finishedAt
      ? `, ${Math.round((refresh.finishedAt.getTime() - refresh.startedAt.getTime()) / 1000)} s`
      : '';
    out.push(
      `refresh:   #${refresh.id} ${refresh.status} (${refresh.slot ? `slot ${refresh.slot.toISOString()}` : 'by hand'}), started ${refresh.startedAt.toISOString()}${took}, serials ${refresh.fromSerial ?? 'none'} → ${refresh.toSerial ?? '…'}${refresh.snapshotId ? `, snapshot ${refresh.snapshotId}` : ''}${refresh.error ? `: ${refresh.error}` : ''}`,
    );
  } else {
    out.push('refresh:   none yet');
  }
  out.push(
    snap ? `snapshot:  ${snap.id} at ${snap.createdAt.toISOString()} in ${snap.path}` : 'snapshot:  none yet',
  );
  return out.join('\n');
}

/** The setup.py sandbox: the latest check of each process that ran sdists, and what waits for it. */
async function sandboxLines(app: App): Promise<string[]> {
  if (app.config.sdistExtraction === 'off') return ['sandbox:   off (SDIST_EXTRACTION=off)'];
  const { checks, waiting } = await sandboxOverview(app.db, SDIST_EXTRACTOR_VERSION);
  const out =
    checks.length === 0
      ? ['sandbox:   not checked yet (no process has needed it)']
      : checks.map(
          (c, i) =>
            `${i === 0 ? 'sandbox:  ' : '          '} ${c.state} on ${c.worker} at ${c.checkedAt.toISOString()}${c.reason ? `: ${c.reason}` : ''}`,
        );
  if (waiting > 0) {
    out.push(
      `waiting:   ${waiting} sdists need their setup.py run and wait for a sandbox (not failures; \`pnpm crawl --resume\` once one is proven)`,
    );
  }
  return out;
}
