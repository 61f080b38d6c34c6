import type { BuildResolution, BuildWheel } from '@pypi-graph/model';
import {
  compareVersions,
  evaluateMarker,
  isPrerelease,
  markerEnvironment,
  parseRequirement,
  parseWheelFilename,
  pep503Name,
  type Requirement,
  satisfies,
  tryParseVersion,
} from '@pypi-graph/pyspec';
import { sql } from 'drizzle-orm';
import type { Db } from './connection';

// Build dependencies from the crawled index itself (issue 11 §2): the wheels an sdist's build
// needs, resolved per Python version against the projects, files and wheel results this crawler
// has stored. Nothing here downloads: the worker fetches the chosen files by their sha256.

/** Requirements the sandbox meets itself: the setuptools shipped to each interpreter (nix/). */
export const SANDBOX_PROVIDED = new Set(['setuptools', 'wheel', 'pip']);

interface Candidate {
  fileId: number;
  filename: string;
  version: string;
  url: string;
  sha256: string;
  size: number | null;
  requiresPython: string | null;
}

function rowsOf(result: unknown): Array<Record<string, unknown>> {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<
    Record<string, unknown>
  >;
}

/** Whether a pure-Python wheel's tags (`py3-none-any`, `py2.py3-none-any`, `py311-…`) run on `major.minor`. */
export function pureTagsFit(filename: string, major: number, minor: number): boolean {
  let tags: ReturnType<typeof parseWheelFilename>;
  try {
    tags = parseWheelFilename(filename);
  } catch {
    return false;
  }
  if (tags.abiTag !== 'none' || tags.platformTag !== 'any') return false;
  return tags.pythonTag.split('.').some((t) => {
    const m = /^py(\d)(\d*)$/.exec(t);
    if (!m) return false;
    if (Number(m[1]) !== major) return false;
    return m[2] === '' || Number(m[2]) <= minor;
  });
}

function requiresPythonFits(spec: string | null, full: string): boolean {
  if (!spec?.trim()) return true;
  try {
    return satisfies(full, spec);
  } catch {
    return true; // pip ignores a Requires-Python it cannot read
  }
}

/**
 * Resolves build requirements for one Python version (`3.11.7`): for each requirement whose
 * marker holds, the newest non-yanked pure-Python wheel of its project whose tags and
 * Requires-Python fit and whose version satisfies the specifier (finals before pre-releases), then
 * the same for that wheel's own Requires-Dist (from its stored wheel result; a wheel whose
 * metadata was not read yet is passed over). Requirements in `SANDBOX_PROVIDED` and names already
 * chosen are not resolved again (a second, conflicting specifier is reported as missing).
 */
export async function resolveBuildDependencies(
  db: Db,
  requirements: readonly string[],
  pythonFullVersion: string,
): Promise<BuildResolution> {
  const [major = 3, minor = 0] = pythonFullVersion.split('.').map(Number);
  const chosen = new Map<string, BuildWheel>();
  const wheels: BuildWheel[] = [];
  const missing: BuildResolution['missing'] = [];
  const queue: Array<{ text: string; req: Requirement | null }> = requirements.map((text) => {
    try {
      return { text, req: parseRequirement(text) };
    } catch {
      return { text, req: null };
    }
  });
  while (queue.length > 0) {
    const { text, req } = queue.shift()!;
    if (req === null) {
      missing.push({ requirement: text, reason: 'not a PEP 508 requirement' });
      continue;
    }
    if (req.marker) {
      let holds = false;
      try {
        holds = evaluateMarker(req.marker, markerEnvironment(pythonFullVersion, 'linux', ''));
      } catch {
        holds = false;
      }
      if (!holds) continue;
    }
    const name = pep503Name(req.name);
    if (SANDBOX_PROVIDED.has(name)) continue;
    if (req.url !== null) {
      missing.push({ requirement: text, reason: 'a direct URL reference is not resolved from the index' });
      continue;
    }
    const already = chosen.get(name);
    if (already) {
      if (req.specifier && !satisfies(already.version, req.specifier, { prereleases: true })) {
        missing.push({
          requirement: text,
          reason: `conflicts with ${name} ${already.version}, chosen for another requirement`,
        });
      }
      continue;
    }
    const candidates = rowsOf(
      await db.execute(sql`
        SELECT f.id, f.filename, f.version, f.url, f.sha256, f.size, f.requires_python
        FROM files f JOIN projects p ON p.id = f.project_id
        WHERE p.name = ${name} AND NOT p.removed AND f.packagetype = 'bdist_wheel'
          AND NOT f.removed AND NOT f.yanked`),
    )
      .map(
        (r): Candidate => ({
          fileId: Number(r.id),
          filename: String(r.filename),
          version: String(r.version),
          url: String(r.url),
          sha256: String(r.sha256).trim(),
          size: r.size === null ? null : Number(r.size),
          requiresPython: (r.requires_python as string | null) ?? null,
        }),
      )
      .filter(
        (c) =>
          pureTagsFit(c.filename, major, minor) &&
          requiresPythonFits(c.requiresPython, pythonFullVersion) &&
          tryParseVersion(c.version) !== null &&
          satisfies(c.version, req.specifier, { prereleases: true }),
      );
    if (candidates.length === 0) {
      missing.push({
        requirement: text,
        reason: `the crawled index has no pure-Python wheel of ${name} for Python ${major}.${minor}${req.specifier ? ` matching ${req.specifier}` : ''}`,
      });
      continue;
    }
    const finals = candidates.filter((c) => !isPrerelease(tryParseVersion(c.version)!));
    const pool = finals.length > 0 ? finals : candidates;
    // newest version first; among its wheels, the most specific tag (py311 before py3 before py2.py3)
    pool.sort(
      (a, b) =>
        compareVersions(b.version, a.version) ||
        a.filename.split('-').at(-3)!.length - b.filename.split('-').at(-3)!.length ||
        a.filename.localeCompare(b.filename),
    );
    let picked: { c: Candidate; deps: string[] } | null = null;
    for (const c of pool) {
      const deps = await wheelRequirements(db, c.fileId);
      if (deps !== null) {
        picked = { c, deps };
        break;
      }
    }
    if (picked === null) {
      missing.push({
        requirement: text,
        reason: `the metadata of ${name}'s wheels has not been read yet (crawl ${name} first)`,
      });
      continue;
    }
    const wheel: BuildWheel = {
      name,
      version: picked.c.version,
      filename: picked.c.filename,
      url: picked.c.url,
      sha256: picked.c.sha256,
      size: picked.c.size,
      fileId: picked.c.fileId,
    };
    chosen.set(name, wheel);
    wheels.push(wheel);
    for (const dep of picked.deps) {
      let parsed: Requirement;
      try {
        parsed = parseRequirement(dep);
      } catch {
        continue; // a line of the wheel's METADATA that is no requirement: pip would fail too
      }
      // its extras' lines hold only for the extras asked for
      if (parsed.marker) {
        let holds = false;
        try {
          holds = ['', ...req.extras].some((extra) =>
            evaluateMarker(parsed.marker!, markerEnvironment(pythonFullVersion, 'linux', extra)),
          );
        } catch {
          holds = false;
        }
        if (!holds) continue;
      }
      queue.push({ text: dep, req: { ...parsed, marker: null, markerText: null } });
    }
  }
  return { wheels, missing };
}

/** A wheel's Requires-Dist from its newest ok result; null when it has none yet. */
async function wheelRequirements(db: Db, fileId: number): Promise<string[] | null> {
  const rows = rowsOf(
    await db.execute(sql`
      WITH e AS (
        SELECT id FROM extractions
        WHERE file_id = ${fileId} AND python_key = 'any' AND status = 'ok'
        ORDER BY id DESC LIMIT 1)
      SELECT e.id, r.kind, r.requirement
      FROM e LEFT JOIN requirements r ON r.extraction_id = e.id AND r.kind = 'install'
      ORDER BY r.position`),
  );
  if (rows.length === 0) return null;
  return rows.filter((r) => r.kind === 'install').map((r) => String(r.requirement));
}
