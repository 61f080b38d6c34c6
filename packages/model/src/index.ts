// The nouns several packages speak about, declared once (issue 13 §1). Types and constants only:
// no I/O and no logic. Whoever reads, stores or publishes one of these imports it from here; a
// zod schema at a boundary is checked against the type here (docs/architecture.md §8).
import type { FailureCode } from '@pypi-graph/core';

// ---------------------------------------------------------------------------------------------
// Python keys

/**
 * The interpreters an sdist's setup.py runs under, and the keys of the `sdist/` layout, in
 * interpreter order: the digits of major+minor (docs/formats.md §B1).
 */
export const PYTHON_KEYS = ['27', '36', '37', '38', '39', '310', '311', '312', '313'] as const;
export type PythonKey = (typeof PYTHON_KEYS)[number];

// ---------------------------------------------------------------------------------------------
// The dependency fields of an sdist

/**
 * The dependency fields of one sdist result, as pypi-deps-db names them (docs/formats.md §B1):
 * what the patched `setup()` saw, or the same fields from static metadata or a PEP 517 backend.
 * This is what an extraction gives and what is stored (one requirement row per line).
 */
export interface SdistDeps {
  install_requires: string[];
  setup_requires: string[];
  /** In the order setup() or the static metadata gave them; keys may be `extra:marker`. */
  extras_require: Array<[string, string[]]>;
  tests_require: string[];
  python_requires: string | null;
}

/** The field names, in `pkg_to_dict` order (the order the `sdist/` layout writes them). */
export const SDIST_DEPS_FIELDS = [
  'install_requires',
  'setup_requires',
  'extras_require',
  'tests_require',
  'python_requires',
] as const satisfies ReadonlyArray<keyof SdistDeps>;

/**
 * The same fields as the `sdist/` layout publishes them: each left out when empty (`{}` =
 * crawled, no deps), `python_requires` a list; `extras_require` in the given order (a repeated
 * key keeps its first position and its last value, as a Python dict does).
 */
export type PublishedSdistDeps = {
  readonly [K in keyof SdistDeps]?: K extends 'extras_require'
    ? ReadonlyArray<readonly [string, readonly string[]]>
    : readonly string[];
};

/** One Python key's published outcome: the fields (`sdist/`) or the error text (`sdist-errors/`). */
export type SdistResult = { ok: PublishedSdistDeps } | { error: string };

export interface SdistRelease {
  /** The raw release key as PyPI has it (the layout strips it, docs/formats.md §0). */
  version: string;
  /** Python key (`27` … `313`) → result; the layout refuses any other key. */
  results: ReadonlyMap<string, SdistResult>;
}

/** One project with its crawled sdist releases, in PyPI release order: what the `sdist/` layouts read. */
export interface SdistProject {
  /** The display name; the layout's key is `machNixName(name)`. */
  name: string;
  releases: readonly SdistRelease[];
}

// ---------------------------------------------------------------------------------------------
// Build dependencies from the crawled index (docs/architecture.md §3a)

/** A pure-Python wheel of the crawled index that a build is given. */
export interface BuildWheel {
  /** PEP 503 name of its project. */
  name: string;
  version: string;
  filename: string;
  url: string;
  /** As the index published it: the wheel enters the sandbox by this hash. */
  sha256: string;
  size: number | null;
  fileId: number;
}

export interface BuildResolution {
  /** Every wheel the build needs (the requirements and their own dependencies), in resolution order. */
  wheels: BuildWheel[];
  /** What the index could not give: the requirement text and why. Empty when resolved. */
  missing: Array<{ requirement: string; reason: string }>;
}

/** A build dependency a result was computed with: the wheel, by the sha256 the index published. */
export interface BuildDependencyUsed {
  name: string;
  version: string;
  filename: string;
  sha256: string;
}

/** `extractions.build_provenance` (migration 0008, docs/formats.md §E). */
export interface BuildProvenance {
  /** `pep517` (the backend's prepare_metadata_for_build_wheel) or `setup.py` (the patched setup()). */
  method: 'pep517' | 'setup.py';
  /** `[build-system] build-backend`; null for a setup.py run. */
  backend: string | null;
  build_dependencies: BuildDependencyUsed[];
}

// ---------------------------------------------------------------------------------------------
// What extracting one sdist gives (packages/extractor gives it, packages/pipeline stores it)

/** One Python key's result of a sandbox run. */
export type SdistKeyOutcome = ({ ok: SdistDeps } | { error: { code: string; log: string } }) & {
  /** `setup.py` (default) or `pep517`. */
  method?: 'setup.py' | 'pep517';
  /** The build backend and build dependencies it was computed with (issue 11); absent when none. */
  provenance?: BuildProvenance;
};

export type SdistOutcome =
  | {
      kind: 'static';
      method: string;
      deps: SdistDeps;
      bytesTransferred: number;
      /** Repairs made reading the metadata (PKG-INFO lines not UTF-8, undecodable pyproject.toml bytes). */
      textRepairs?: number;
    }
  | {
      kind: 'setup.py';
      /** Per Python key. */
      results: Record<string, SdistKeyOutcome>;
      bytesTransferred: number;
      /** Frees what the run left behind (its Nix store paths); called once the results are stored. */
      release?: () => Promise<void>;
    };

/** A distribution file to fetch, as the index describes it. */
export interface FileToFetch {
  filename: string;
  url: string;
  /** sha256 of the file, hex; the download is checked against it. */
  sha256: string;
  size: number | null;
}

export interface SdistExtractor {
  /** Throws `sandbox-unavailable` when the file needs setup.py run and there is no proven sandbox. */
  extract(file: FileToFetch, signal: AbortSignal): Promise<SdistOutcome>;
  /**
   * `unavailable` once this process knows it has no sandbox (no Nix, SDIST_EXTRACTION=static, a
   * failed probe): a file already known to wait for one is then not downloaded again.
   */
  sandboxState?(): 'unchecked' | 'proven' | 'unavailable';
  /** Proves the sandbox now: a worker does it before it takes its first sdist. */
  prepare?(): Promise<void>;
  /** Waits for what runs in the background (the store deletions of SANDBOX_GC=on). */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// A wheel's METADATA

/** How a wheel's METADATA was obtained, cheapest first. */
export type WheelMetadataMethod = 'pep658' | 'range' | 'download';

export const WHEEL_METADATA_METHODS: readonly WheelMetadataMethod[] = Object.freeze([
  'pep658',
  'range',
  'download',
]);

/** A method that failed before another one succeeded. */
export interface WheelMetadataFallback {
  method: WheelMetadataMethod;
  code: FailureCode;
  message: string;
}

/** What reading one wheel's METADATA gave (packages/extractor reads it, packages/pipeline stores it). */
export interface WheelMetadataResult {
  method: WheelMetadataMethod;
  /** Response body bytes received for this call, every method and retry included. */
  bytesTransferred: number;
  /** HTTP requests sent for this call, every method, retry and redirect included. */
  requests: number;
  /** The METADATA file, byte for byte (checked to parse as core metadata; it may hold lines that are not UTF-8). */
  metadata: Buffer;
  /**
   * The `.dist-info` directory it came from. For `pep658`, where the wheel is not opened, the
   * one the file name implies (`{name}-{version}.dist-info`).
   */
  distInfo: string;
  /** Methods that failed first (e.g. a `.metadata` file with the wrong sha256). */
  fallbacks: WheelMetadataFallback[];
  /**
   * How much of the central directory decided which entry is METADATA: `whole` (every check of
   * selectWheelMetadata), or `end` (the range path found it in the directory's last records;
   * see selectWheelMetadataFromEnd). Absent for `pep658`, where the wheel is not opened.
   */
  centralDirectory?: 'whole' | 'end';
}

// ---------------------------------------------------------------------------------------------
// The changelog

/** One changelog event of an index (XML-RPC `changelog_since_serial`), as read, stored and served. */
export interface ChangelogRow {
  name: string;
  /** Null for project-level events. */
  version: string | null;
  /** Seconds since the epoch, as PyPI's XML-RPC gives it. */
  timestamp: number;
  action: string;
  serial: number;
}
