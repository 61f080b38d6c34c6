import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type PublishedSdistDeps, PYTHON_KEYS, type SdistProject, type SdistResult } from '@pypi-graph/model';
import { boundedMemo, satisfies } from '@pypi-graph/pyspec';
import type { SdistExtractionRows, SdistProjectRows } from './snapshot-queries';

// Which stored result each Python key of an sdist gets in the `sdist/` and `sdist-errors/`
// layouts (docs/architecture.md §7). It lives beside the query that reads the rows
// (snapshot-queries.ts `sdistBucket`): it decides between stored extractions by their status,
// method and Python key, which is the database's vocabulary, not the layouts'.

/**
 * A fingerprint of this rule (its source text): a snapshot reuses entries of the previous one
 * only when they were rendered by the same rule (`SnapshotSource.version`).
 */
export const SDIST_RESULTS_VERSION = createHash('sha256')
  .update(readFileSync(fileURLToPath(import.meta.url)))
  .digest('hex');

/** An extraction's requirement rows as the published fields, empty ones left out. */
function fieldsOf(e: SdistExtractionRows): PublishedSdistDeps {
  // One pass over the rows (a snapshot calls this for every result it renders).
  const install: string[] = [];
  const setup: string[] = [];
  const tests: string[] = [];
  const python: string[] = [];
  const extras: Array<[string, string[]]> = [];
  for (const r of e.requirements) {
    switch (r.kind) {
      case 'install':
        install.push(r.requirement);
        break;
      case 'setup':
        setup.push(r.requirement);
        break;
      case 'test':
        tests.push(r.requirement);
        break;
      case 'python':
        python.push(r.requirement);
        break;
      case 'extra': {
        if (r.extra === null) break;
        let entry = extras.find(([k]) => k === r.extra);
        if (!entry) {
          entry = [r.extra, []];
          extras.push(entry);
        }
        if (r.requirement !== '') entry[1].push(r.requirement);
        break;
      }
    }
  }
  // Field order as pkg_to_dict writes them (the layout checks and orders them again).
  const out: { -readonly [K in keyof PublishedSdistDeps]: PublishedSdistDeps[K] } = {};
  if (install.length) out.install_requires = install;
  if (setup.length) out.setup_requires = setup;
  if (extras.length) out.extras_require = extras;
  if (tests.length) out.tests_require = tests;
  if (python.length) out.python_requires = python;
  return out;
}

/** Whether some interpreter of this key (`38` → 3.8.x) can satisfy a Requires-Python. */
function allows(requiresPython: string | undefined, key: string): boolean {
  if (!requiresPython) return true;
  const version = `${key[0]}.${key.slice(1)}`;
  try {
    return satisfies(`${version}.0`, requiresPython) || satisfies(`${version}.99`, requiresPython);
  } catch {
    return true; // an unreadable Requires-Python filters nothing, as pip ignores it
  }
}

// The keys a Requires-Python allows. The same few texts (`>=3.6`…) recur across a snapshot:
// each is evaluated for the nine keys once.
const allowedKeys = boundedMemo(
  (requiresPython: string): ReadonlySet<string> =>
    new Set(PYTHON_KEYS.filter((key) => allows(requiresPython, key))),
  10_000,
);

/**
 * Per Python key, the best result of a release's sdist: static metadata (trustworthy by
 * definition) for every key its Requires-Python allows, else that key's setup.py (or PEP 517)
 * run, else the failure (sdist-errors): the run's, else the static attempt's.
 */
export function sdistResults(project: SdistProjectRows): SdistProject {
  return {
    name: project.name,
    releases: project.releases.map((release) => {
      const results = new Map<string, SdistResult>();
      const staticOk = release.extractions.find((e) => e.pythonKey === 'any' && e.status === 'ok');
      const staticFailed = release.extractions.find((e) => e.pythonKey === 'any' && e.status === 'failed');
      if (staticOk) {
        // One result for every key its Requires-Python allows: the same object, built once.
        const fields = fieldsOf(staticOk);
        const requiresPython = fields.python_requires?.[0];
        const allowed = requiresPython ? allowedKeys(requiresPython) : undefined;
        const result: SdistResult = { ok: fields };
        for (const key of PYTHON_KEYS)
          if (allowed === undefined || allowed.has(key)) results.set(key, result);
        return { version: release.version, results };
      }
      for (const key of PYTHON_KEYS) {
        const run = release.extractions.find(
          (e) => e.pythonKey === key && (e.method === 'setup.py' || e.method === 'pep517'),
        );
        if (run?.status === 'ok') results.set(key, { ok: fieldsOf(run) });
        else if (run) results.set(key, { error: run.log || run.failureCode || 'failed' });
        else if (staticFailed)
          results.set(key, { error: staticFailed.log || staticFailed.failureCode || 'failed' });
      }
      return { version: release.version, results };
    }),
  };
}
