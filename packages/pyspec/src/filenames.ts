import { metadataError } from '@pypi-graph/core';
import { pep503Name } from './names';

export type PackageType = 'sdist' | 'bdist_wheel' | 'bdist_egg' | 'bdist_wininst' | 'bdist_msi' | 'other';

// https://packaging.python.org/en/latest/specifications/binary-distribution-format/#file-name-convention
export interface WheelName {
  /** Distribution name as written in the file name (escaped: `-` → `_`). */
  name: string;
  version: string;
  build?: string;
  /** Python tags, e.g. `py2.py3` (compressed tag set, as in the file name). */
  pythonTag: string;
  abiTag: string;
  platformTag: string;
}

/** Parses `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`. */
export function parseWheelFilename(filename: string): WheelName {
  if (!filename.endsWith('.whl')) {
    throw metadataError('filename-invalid', `not a wheel file name: ${filename}`);
  }
  const parts = filename.slice(0, -4).split('-');
  if (parts.length !== 5 && parts.length !== 6) {
    throw metadataError('filename-invalid', `a wheel file name has 5 or 6 dash-separated parts: ${filename}`);
  }
  const [name, version] = parts as [string, string];
  const build = parts.length === 6 ? parts[2] : undefined;
  const [pythonTag, abiTag, platformTag] = parts.slice(-3) as [string, string, string];
  if (
    !name ||
    !version ||
    !pythonTag ||
    !abiTag ||
    !platformTag ||
    (build !== undefined && !/^\d/.test(build))
  ) {
    throw metadataError('filename-invalid', `malformed wheel file name: ${filename}`);
  }
  return { name, version, build, pythonTag, abiTag, platformTag };
}

/** Archive suffixes of sdists PyPI has accepted over time, longest first. */
export const SDIST_SUFFIXES = [
  '.tar.gz',
  '.tar.bz2',
  '.tar.xz',
  '.tar.Z',
  '.tgz',
  '.tbz',
  '.zip',
  '.tar',
] as const;

export function sdistSuffix(filename: string): string | undefined {
  const lower = filename.toLowerCase();
  return SDIST_SUFFIXES.find((s) => lower.endsWith(s.toLowerCase()));
}

export interface SdistName {
  name: string;
  version: string;
  suffix: string;
}

/**
 * Splits an sdist file name into name and version. Legacy sdist names are ambiguous
 * (`foo-bar-1.0-2.tar.gz`), so when the project name is known it decides the split;
 * otherwise the version starts at the first dash followed by a digit.
 */
// https://packaging.python.org/en/latest/specifications/source-distribution-format/#source-distribution-file-name
export function parseSdistFilename(filename: string, projectName?: string): SdistName {
  const suffix = sdistSuffix(filename);
  if (!suffix) throw metadataError('filename-invalid', `not an sdist file name: ${filename}`);
  const stem = filename.slice(0, filename.length - suffix.length);
  if (projectName !== undefined) {
    const want = pep503Name(projectName);
    const wantChars = want.replaceAll('-', '').length;
    const isSep = (c: string | undefined) => c === '-' || c === '_' || c === '.';
    // Normalizing a prefix only changes when a letter is added or a separator run starts, so at
    // most two dashes of a run need a check, and none once the prefix has more letters than the
    // name: linear in the file name, however many dashes it has.
    let chars = 0;
    const checked = [false, false];
    for (let i = 0; i < stem.length && chars <= wantChars; i++) {
      const c = stem[i];
      if (!isSep(c)) {
        chars++;
        checked[0] = checked[1] = false;
        continue;
      }
      if (c !== '-' || i === 0 || i + 1 >= stem.length) continue;
      const trailing = isSep(stem[i - 1]) ? 1 : 0;
      if (checked[trailing]) continue;
      checked[trailing] = true;
      if (pep503Name(stem.slice(0, i)) === want) {
        return { name: stem.slice(0, i), version: stem.slice(i + 1), suffix };
      }
    }
  }
  const m = /^(.+?)-(\d.*)$/s.exec(stem);
  if (!m) throw metadataError('filename-invalid', `cannot find the version in sdist file name: ${filename}`);
  return { name: m[1]!, version: m[2]!, suffix };
}

/** The packagetype PyPI would report for a file name. */
export function packageTypeOf(filename: string): PackageType {
  const lower = filename.toLowerCase();
  if (lower.endsWith('.whl')) return 'bdist_wheel';
  if (lower.endsWith('.egg')) return 'bdist_egg';
  if (lower.endsWith('.exe')) return 'bdist_wininst';
  if (lower.endsWith('.msi')) return 'bdist_msi';
  if (sdistSuffix(filename)) return 'sdist';
  return 'other';
}
