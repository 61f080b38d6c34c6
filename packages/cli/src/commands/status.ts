import {
  countPendingProjects,
  failuresByCode,
  getCrawlState,
  getSetting,
  lastRefresh,
  latestSnapshot,
  sandboxOverview,
  storeCounts,
} from '@pypi-graph/db';
import { configuredHostPythons, hostPythonLines } from '@pypi-graph/extractor';
import { BullmqRunner, SDIST_EXTRACTOR_VERSION } from '@pypi-graph/pipeline';
import { probeIndex } from '@pypi-graph/pypi-client';
import type { App } from '../app';
import { createRunner } from '../app';

/** How long `status` waits for the index: it only reads the database, the lag is a bonus. */
const STATUS_INDEX_TIMEOUT_MS = 5_000;

/**
 * What is stored, how far behind the index it is, the queues, failures, the last refresh and
 * snapshot. It reads the database; the only request is one to the index the data was crawled
 * from (recorded by the crawl), with a short timeout and no retry.
 */
export async function status(app: App, onPhase?: (phase: string) => void): Promise<string> {
  onPhase?.('reading the database');
  const counts = await storeCounts(app.db);
  const serial = await getCrawlState(app.db, 'changelog');
  const failures = await failuresByCode(app.db);
  const snap = await latestSnapshot(app.db);
  const out = [
    `database:  ${app.database.kind}`,
    `projects:  ${counts.projects} (${counts.projectsRemoved} removed)`,
    `releases:  ${counts.releasesWithFiles} with files (as the snapshot counts them), ${counts.releases} in all`,
    `files:     ${counts.files} (${counts.filesRemoved} removed)`,
    `changelog: ${counts.changelogRows} rows stored, crawled up to serial ${serial ?? 'none'}`,
    `pending:   ${await countPendingProjects(app.db)} projects asked for by the changelog and not crawled yet`,
  ];
  const indexUrl = await getSetting(app.db, 'index_url');
  if (indexUrl === undefined) {
    out.push('index:     none recorded (nothing crawled yet)');
  } else {
    onPhase?.(`asking ${indexUrl} for its last serial`);
    const probe = await probeIndex(app.config, indexUrl, STATUS_INDEX_TIMEOUT_MS);
    const other = indexUrl !== app.config.pypiUrl ? ` (PYPI_URL is now ${app.config.pypiUrl})` : '';
    if (!probe.reachable) {
      out.push(
        `index:     ${indexUrl} not reachable (${probe.error.message.replace(/ \(https?:[^)]*\)$/, '')})${other}`,
      );
    } else if (probe.lastSerial === undefined) {
      out.push(`index:     ${indexUrl} gave no last serial${other}`);
    } else {
      const last = probe.lastSerial;
      out.push(
        `index:     ${indexUrl}, last serial ${last}${serial !== undefined ? `, ${last - serial} behind` : ''}${other}`,
      );
    }
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
    snap
      ? `snapshot:  ${snap.id} at ${snap.createdAt.toISOString()} in ${snap.path} (${snapshotCounts(snap.counts)})`
      : 'snapshot:  none yet',
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
  out.push(...(await pythonLines(app)));
  if (waiting > 0) {
    out.push(
      `waiting:   ${waiting} sdists need their setup.py run and wait for a sandbox (not failures; \`pnpm crawl --resume\` once one is proven)`,
    );
  }
  return out;
}

/** The sandbox's interpreters on this machine (SANDBOX_PYTHONS or discovery), and which are missing. */
async function pythonLines(app: App): Promise<string[]> {
  if (app.config.sdistExtraction === 'static') return [];
  if (app.config.sandboxInterpreters !== 'host') {
    return ['pythons:   from nixpkgs (SANDBOX_INTERPRETERS=nixpkgs)'];
  }
  try {
    const set = await configuredHostPythons(app.config);
    if (!set) return [];
    const { summary, lines } = hostPythonLines(set);
    return [`pythons:   here ${summary}`, ...lines.map((l) => `  ${l}`)];
  } catch (err) {
    return [`pythons:   ${(err as Error).message}`];
  }
}

/** `pypi/: 10 projects, 18 releases, 25 files`, from a snapshot's recorded counts. */
function snapshotCounts(counts: unknown): string {
  const pypi = (counts as Record<string, { projects?: number; releases?: number; files?: number }> | null)
    ?.pypi;
  if (!pypi) return 'no counts';
  return `pypi/: ${pypi.projects ?? 0} projects, ${pypi.releases ?? 0} releases, ${pypi.files ?? 0} files`;
}
