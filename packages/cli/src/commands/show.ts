import { configError, httpError } from '@pypi-graph/core';
import { type FileDependencies, getProject, projectDependencies } from '@pypi-graph/db';
import { pep503Name } from '@pypi-graph/pyspec';
import type { App } from '../app';

/** `NAME` or `NAME==VERSION`. */
export function parseShowTarget(target: string): { name: string; version?: string } {
  const i = target.indexOf('==');
  if (i < 0) return { name: target.trim() };
  return { name: target.slice(0, i).trim(), version: target.slice(i + 2).trim() };
}

/** `3.8` → `38`, `2.7` → `27`, `3.13` → `313`; a key is accepted as it is. */
export function pythonKeyOf(python: string): string {
  const m = /^(\d)\.?(\d{1,2})$/.exec(python.trim());
  if (!m) {
    throw configError('config-invalid', `--python ${JSON.stringify(python)}: expected a version like 3.8`);
  }
  return `${m[1]}${m[2]}`;
}

type Extraction = FileDependencies['extractions'][number];

/** A Python key (`27`, `38`, `310`) as [major, minor]; `any` and unknown keys sort first. */
function pythonOrder(key: string): [number, number] {
  const m = /^(\d)(\d{1,2})$/.exec(key);
  return m ? [Number(m[1]), Number(m[2])] : [-1, -1];
}

export function comparePythonKeys(a: string, b: string): number {
  const [am, an] = pythonOrder(a);
  const [bm, bn] = pythonOrder(b);
  return am - bm || an - bn || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Python keys as runs of consecutive minor versions of one major: `27, 36–39, 311`. The keys are
 * taken in numeric order (`39` before `310`), whatever order they come in.
 */
export function pythonKeysLabel(keys: readonly string[]): string {
  const sorted = [...keys].sort(comparePythonKeys);
  const runs: string[][] = [];
  for (const key of sorted) {
    const run = runs.at(-1);
    const prev = run?.at(-1);
    if (run && prev !== undefined) {
      const [pm, pn] = pythonOrder(prev);
      const [km, kn] = pythonOrder(key);
      if (pm >= 0 && km === pm && kn === pn + 1) {
        run.push(key);
        continue;
      }
    }
    runs.push([key]);
  }
  return runs.map((r) => (r.length > 2 ? `${r[0]}–${r.at(-1)}` : r.join(', '))).join(', ');
}

/**
 * A file's extractions with the per-Python ones that say the same thing (same method, outcome
 * and requirements) merged into one entry listing their keys, in numeric key order.
 */
export function groupExtractions(extractions: readonly Extraction[]): Array<Extraction & { keys: string[] }> {
  const groups = new Map<string, Extraction & { keys: string[] }>();
  const sorted = [...extractions].sort(
    (a, b) => comparePythonKeys(a.pythonKey, b.pythonKey) || (a.method < b.method ? -1 : 1),
  );
  for (const e of sorted) {
    const same =
      e.pythonKey === 'any'
        ? `any ${e.method}`
        : JSON.stringify([
            e.method,
            e.status,
            e.failureCode,
            e.status === 'ok' ? '' : (e.log ?? '').split('\n')[0],
            e.textRepairs,
            e.requirements.map((q) => [q.kind, q.extra, q.requirement]),
            e.buildProvenance ?? null,
          ]);
    const group = groups.get(same);
    if (group) group.keys.push(e.pythonKey);
    else groups.set(same, { ...e, keys: [e.pythonKey] });
  }
  return [...groups.values()];
}

/**
 * A project's releases and files with their hashes and, where known, their dependencies, with
 * the method behind each; `python` keeps only what applies to that interpreter.
 */
export async function show(app: App, target: string, options: { python?: string } = {}): Promise<string> {
  const pythonKey = options.python === undefined ? undefined : pythonKeyOf(options.python);
  const { name, version } = parseShowTarget(target);
  const project = await getProject(app.db, name);
  if (!project) {
    throw httpError('project-not-found', `no project ${JSON.stringify(name)} in the database`, {
      hint: `crawl it first: \`pnpm crawl --project ${name}\``,
    });
  }
  const deps = new Map<string, FileDependencies>(
    (await projectDependencies(app.db, pep503Name(name), version)).map((d) => [d.filename, d]),
  );
  const flags = (f: { yanked: boolean; removed: boolean }) =>
    `${f.yanked ? ' [yanked]' : ''}${f.removed ? ' [removed]' : ''}`;
  const out = [
    `${project.displayName} (${project.name})  serial ${project.lastSerial}${project.removed ? '  [removed]' : ''}`,
  ];
  if (project.failureCode)
    out.push(`  last failure: ${project.failureCode}: ${project.failureMessage ?? ''}`);
  const releases =
    version === undefined ? project.releases : project.releases.filter((r) => r.version === version);
  if (version !== undefined && releases.length === 0) {
    throw httpError('project-not-found', `${project.displayName} has no release ${JSON.stringify(version)}`, {
      hint: `releases: ${project.releases.map((r) => r.version).join(', ')}`,
    });
  }
  for (const r of releases) {
    out.push(`  ${r.version}${flags(r)}`);
    for (const f of r.files) {
      out.push(
        `    ${f.filename}  ${f.packagetype} ${f.pythonVersion}  sha256:${f.sha256}  ${f.size ?? '?'} bytes  ` +
          `${f.uploadTime?.toISOString() ?? 'no upload time'}${f.requiresPython ? `  requires-python ${f.requiresPython}` : ''}${flags(f)}`,
      );
      const extractions = (deps.get(f.filename)?.extractions ?? []).filter(
        (e) => pythonKey === undefined || e.pythonKey === 'any' || e.pythonKey === pythonKey,
      );
      for (const e of groupExtractions(extractions)) {
        const repaired = e.textRepairs > 0 ? `, ${e.textRepairs} text repairs` : '';
        const how = `${e.method}${e.pythonKey === 'any' ? '' : ` python ${pythonKeysLabel(e.keys)}`}${repaired}`;
        if (e.status === 'waiting') {
          out.push(`      dependencies: not run here [${e.failureCode}]: ${(e.log ?? '').split('\n')[0]}`);
          continue;
        }
        if (e.status === 'failed') {
          out.push(
            `      dependencies: failed [${e.failureCode}] via ${how}: ${(e.log ?? '').split('\n')[0]}`,
          );
          continue;
        }
        const transfer =
          e.bytesTransferred !== null ? `, ${e.bytesTransferred} bytes in ${e.requests ?? '?'} requests` : '';
        out.push(`      dependencies (${how}${transfer}):${e.requirements.length === 0 ? ' none' : ''}`);
        for (const q of e.requirements) {
          const label = q.kind === 'install' ? '' : `${q.kind}${q.extra ? ` [${q.extra}]` : ''}: `;
          out.push(`        ${label}${q.requirement}`);
        }
        // issue 11 §2: the backend and the wheels of the crawled index the result was computed with
        const built = e.buildProvenance;
        if (built) {
          out.push(`      built with${built.backend ? ` ${built.backend}` : ''} (${built.method}):`);
          for (const d of built.build_dependencies) {
            out.push(`        ${d.filename}  sha256:${d.sha256}`);
          }
        }
      }
    }
    if (r.files.length === 0) out.push('    (no files)');
  }
  return out.join('\n');
}
