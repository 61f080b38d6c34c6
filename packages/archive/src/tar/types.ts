import type { FailureCode } from '@pypi-graph/core';

/** Caps on what an sdist may ask of us; each one passed is a typed failure, never a crash. */
export interface SdistLimits {
  /** Most entries of any kind, directories included (`archive-too-many-entries`). */
  maxEntries: number;
  /** Largest single entry, read or skipped (`archive-too-large`). */
  maxEntryBytes: number;
  /** Largest entry kept in memory because `want` chose it (`wantedTooLargeCode`). */
  maxWantedBytes: number;
  /** Most uncompressed bytes of the whole stream, tar headers and padding included (`archive-too-large`). */
  maxTotalBytes: number;
  /** Highest uncompressed/compressed ratio of the whole stream (`archive-bomb`). */
  maxCompressionRatio: number;
  /** The ratio is checked only once this many uncompressed bytes were produced. */
  ratioExemptBytes: number;
  /** Longest entry name or link target in bytes (`archive-unsupported`). */
  maxNameBytes: number;
}

export const DEFAULT_SDIST_LIMITS: Readonly<SdistLimits> = Object.freeze({
  maxEntries: 50_000,
  maxEntryBytes: 256 * 1024 * 1024,
  maxWantedBytes: 4 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  // gzip and bzip2 of real source trees stay far below 100:1; zeros reach 1000:1 and more.
  maxCompressionRatio: 100,
  ratioExemptBytes: 4 * 1024 * 1024,
  maxNameBytes: 4096,
});

/** The container formats an sdist comes in; `tar.xz` is recognised but refused (no pure-JS xz decoder). */
export type SdistFormat = 'tar' | 'tar.gz' | 'tar.bz2' | 'tar.xz' | 'zip';

export interface ScanSdistOptions {
  /** Which entries to keep in memory, by normalized name (`pkg-1.0/PKG-INFO`); called for regular files only. */
  want: (name: string) => boolean;
  /** Caps; each missing one takes its default. */
  limits?: Partial<SdistLimits>;
  /** The format; by default from the file name, checked against the first bytes. */
  format?: SdistFormat;
  /** Code for a wanted entry over `maxWantedBytes`; `archive-too-large` by default. */
  wantedTooLargeCode?: FailureCode;
  signal?: AbortSignal;
}

export interface SdistScan {
  format: SdistFormat;
  /** The wanted regular files, by normalized name. */
  entries: Map<string, Buffer>;
  /** The single top-level directory every entry lies under, or null when there is none or several. */
  root: string | null;
  /** Entries seen, of every kind. */
  count: number;
  /** Normalized names of every regular file (for `setup.py` / `pyproject.toml` presence checks). */
  files: Set<string>;
  /** Symbolic links (normalized name → target), all checked to stay inside the tree. */
  symlinks: Map<string, string>;
}
