import type { ZipEntry } from '@pypi-graph/archive';
import { archiveError, metadataError, wheelError } from '@pypi-graph/core';
import { pep503Name, type WheelName } from '@pypi-graph/pyspec';

// https://packaging.python.org/en/latest/specifications/binary-distribution-format/#the-dist-info-directory
// A wheel has one `{name}-{version}.dist-info` directory at its top level, named like the wheel
// file (same escaping), and its core metadata is `METADATA` in it. pip refuses wheels with
// several .dist-info directories or one that does not name the project; so do we, with a code
// of its own for each case.

const METADATA_PATH = /^([^/]+\.dist-info)\/METADATA$/;

export interface MetadataChoice {
  entry: ZipEntry;
  /** The `.dist-info` directory, e.g. `pip-23.2.1.dist-info`. */
  distInfo: string;
}

/**
 * The METADATA entry of a wheel, from its central directory.
 * - no top-level `*.dist-info/METADATA` → `metadata-missing`
 * - METADATA in more than one `.dist-info` directory → `wheel-multiple-dist-info`
 * - the METADATA path twice in the archive → `archive-duplicate-entry`
 * - a `.dist-info` directory that does not name the wheel's project and version → `wheel-dist-info-mismatch`
 */
export function selectWheelMetadata(entries: readonly ZipEntry[], wheel: WheelName): MetadataChoice {
  const byDir = new Map<string, ZipEntry[]>();
  for (const entry of entries) {
    const m = METADATA_PATH.exec(entry.name);
    if (!m) continue;
    const dir = m[1]!;
    byDir.set(dir, [...(byDir.get(dir) ?? []), entry]);
  }
  const details = { wheel: `${wheel.name}-${wheel.version}` };
  if (byDir.size === 0) {
    const dirs = [
      ...new Set(entries.map((e) => e.name.split('/')[0]!).filter((d) => d.endsWith('.dist-info'))),
    ];
    throw metadataError(
      'metadata-missing',
      dirs.length === 0
        ? 'the wheel has no .dist-info directory'
        : `the wheel has no METADATA in ${dirs.join(', ')}`,
      { details: { ...details, distInfoDirs: dirs } },
    );
  }
  if (byDir.size > 1) {
    throw wheelError(
      'wheel-multiple-dist-info',
      `the wheel has METADATA in ${byDir.size} .dist-info directories: ${[...byDir.keys()].join(', ')}`,
      { hint: 'pip refuses such wheels too', details: { ...details, distInfoDirs: [...byDir.keys()] } },
    );
  }
  const [distInfo, found] = [...byDir][0]!;
  if (found.length > 1) {
    throw archiveError(
      'archive-duplicate-entry',
      `${distInfo}/METADATA appears ${found.length} times in the archive`,
      { hint: 'zip readers disagree on which copy counts', details: { ...details, copies: found.length } },
    );
  }
  if (!distInfoMatches(distInfo.slice(0, -'.dist-info'.length), wheel)) {
    throw wheelError(
      'wheel-dist-info-mismatch',
      `${distInfo} does not belong to ${wheel.name} ${wheel.version}`,
      { details: { ...details, distInfo } },
    );
  }
  return { entry: found[0]!, distInfo };
}

/**
 * The METADATA entry decided from the END of a central directory only (`openZipTail`'s entries
 * when it is not complete), or undefined when the rest must be read: exactly one top-level
 * `*.dist-info/METADATA` among the entries seen, in a directory that names the wheel.
 *
 * What the unseen entries could still hold, and why accepting is sound:
 * - the same METADATA path again, earlier: CPython's zipfile (so pip) lets the LAST record of a
 *   name win, and the last one is the one seen here; readers that do so read the same bytes.
 *   (Only the whole directory can refuse it with `archive-duplicate-entry`.)
 * - METADATA in a second `.dist-info` directory, earlier: pip would refuse the wheel; this
 *   reader records the metadata of the one directory that names the wheel.
 * Anything else seen (no METADATA, two, a directory naming another project) is left to the whole
 * directory, which gives the same code `selectWheelMetadata` always gives.
 */
export function selectWheelMetadataFromEnd(
  entries: readonly ZipEntry[],
  wheel: WheelName,
): MetadataChoice | undefined {
  const found = entries.filter((entry) => METADATA_PATH.test(entry.name));
  if (found.length !== 1) return undefined;
  const distInfo = METADATA_PATH.exec(found[0]!.name)![1]!;
  if (!distInfoMatches(distInfo.slice(0, -'.dist-info'.length), wheel)) return undefined;
  return { entry: found[0]!, distInfo };
}

/** Whether `{name}-{version}` names the wheel: names compared by PEP 503, versions loosely. */
export function distInfoMatches(stem: string, wheel: WheelName): boolean {
  const want = pep503Name(wheel.name);
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (pep503Name(stem.slice(0, i)) === want && sameVersion(stem.slice(i + 1), wheel.version)) return true;
  }
  return false;
}

// Both sides are written by the same build tool with the same escaping (`-` → `_`), so they are
// nearly always equal; case, a leading `v` and separators around letters are forgiven
// (`1.0rc1` = `1.0.RC1` = `1.0-rc1`), digits must match. A full PEP 440
// comparison belongs to pyspec.
function sameVersion(a: string, b: string): boolean {
  const key = (v: string) =>
    v
      .toLowerCase()
      .replace(/^v/, '')
      .replace(/[-_]/g, '.')
      .replace(/\.(?=[a-z])|(?<=[a-z])\./g, '');
  return key(a) === key(b);
}
