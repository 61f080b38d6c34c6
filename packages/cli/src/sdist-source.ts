import type { SdistExtractionRows, SdistProjectRows } from '@pypi-graph/db';
import { satisfies } from '@pypi-graph/pyspec';

/** The interpreters of the `sdist/` layout, in order (docs/formats.md §B1: 27, 36 … 313). */
export const SDIST_PYTHON_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'] as const;

export interface SdistFields {
  install_requires?: string[];
  setup_requires?: string[];
  extras_require?: Array<[string, string[]]>;
  tests_require?: string[];
  python_requires?: string[];
}

export type SdistKeyResult = { ok: SdistFields } | { error: string };

export interface SdistProjectResults {
  name: string;
  releases: Array<{ version: string; results: Map<string, SdistKeyResult> }>;
}

function fieldsOf(e: SdistExtractionRows): SdistFields {
  const of = (kind: string) => e.requirements.filter((r) => r.kind === kind).map((r) => r.requirement);
  const extras: Array<[string, string[]]> = [];
  for (const r of e.requirements) {
    if (r.kind !== 'extra' || r.extra === null) continue;
    let entry = extras.find(([k]) => k === r.extra);
    if (!entry) {
      entry = [r.extra, []];
      extras.push(entry);
    }
    if (r.requirement !== '') entry[1].push(r.requirement);
  }
  const out: SdistFields = {};
  const install = of('install');
  const setup = of('setup');
  const tests = of('test');
  const python = of('python');
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

/**
 * Per Python key, the best result of a release's sdist: static metadata (trustworthy by
 * definition) for every key its Requires-Python allows, else that key's setup.py run, else
 * the failure (sdist-errors). docs/architecture.md §3: "the snapshot uses the best one per (file, Python version)".
 */
export function sdistResults(project: SdistProjectRows): SdistProjectResults {
  return {
    name: project.name,
    releases: project.releases.map((release) => {
      const results = new Map<string, SdistKeyResult>();
      const staticOk = release.extractions.find((e) => e.pythonKey === 'any' && e.status === 'ok');
      const staticFailed = release.extractions.find((e) => e.pythonKey === 'any' && e.status === 'failed');
      for (const key of SDIST_PYTHON_KEYS) {
        if (staticOk) {
          const fields = fieldsOf(staticOk);
          if (allows(fields.python_requires?.[0], key)) results.set(key, { ok: fields });
          continue;
        }
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
