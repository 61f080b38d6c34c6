/**
 * Every failure code pypi-graph knows. The code is what the database stores,
 * what `pnpm recrawl --code` selects and what decides retry vs. permanent failure.
 * Stable kebab-case strings: never rename one, only add.
 */
export const FAILURE_CODES = {
  // network and server (retryable)
  'network-error': { retry: true },
  'http-timeout': { retry: true },
  'http-429': { retry: true },
  'http-5xx': { retry: true },
  'xmlrpc-rate-limited': { retry: true },
  'body-truncated': { retry: true },
  // server answers that are final
  'http-4xx': { retry: false },
  'project-not-found': { retry: false },
  'url-host-not-allowed': { retry: false },
  'response-too-large': { retry: false },
  'response-invalid': { retry: false },
  'xmlrpc-fault': { retry: false },
  // downloads and files
  'download-sha256-mismatch': { retry: true },
  'download-size-mismatch': { retry: true },
  // archives
  'archive-corrupt': { retry: false },
  'archive-unsupported': { retry: false },
  'archive-path-traversal': { retry: false },
  'archive-too-large': { retry: false },
  'archive-too-many-entries': { retry: false },
  'archive-bomb': { retry: false },
  'archive-link': { retry: false },
  // metadata
  'metadata-invalid': { retry: false },
  'metadata-missing': { retry: false },
  'metadata-too-large': { retry: false },
  'filename-invalid': { retry: false },
  'version-invalid': { retry: false },
  'requirement-invalid': { retry: false },
  'marker-invalid': { retry: false },
  // jobs and configuration
  'job-payload-invalid': { retry: false },
  'config-invalid': { retry: false },
  'since-invalid': { retry: false },
  'snapshot-failed': { retry: false },
  aborted: { retry: true },
  'internal-error': { retry: false },
  // appended by pypi-client: the server answered a Range request with the whole file (200)
  // and the requested bytes lie beyond what we are willing to read; fall back to a download.
  'range-not-supported': { retry: false },
  // appended by pyspec: a version specifier set (Requires-Python, a clause of a requirement) is not PEP 440
  'specifier-invalid': { retry: false },
  // appended by extractor (wheel METADATA, packages/extractor/readme.md): the PEP 658 `.metadata`
  // file does not match the sha256 the index advertised (recorded, then the wheel itself is read);
  // two entries of the archive share the METADATA path; more than one top-level `.dist-info`
  // directory holds a METADATA; the one `.dist-info` directory does not name the wheel's project
  // and version.
  'metadata-sha256-mismatch': { retry: true },
  'archive-duplicate-entry': { retry: false },
  'wheel-multiple-dist-info': { retry: false },
  'wheel-dist-info-mismatch': { retry: false },
  // appended by extractor (setup.py sandbox, packages/extractor/src/sandbox/readme.md): per Python
  // version, the sdist has no setup.py; setup.py raised (or exited non-zero, or never called setup());
  // it imported a module that is not installed (`No module named 'numpy'`); its code is a SyntaxError
  // for that interpreter; it hit the wall/CPU time, memory or output limit. `sandbox-failed`: the
  // sandbox itself failed (nix-build error, unreadable sdist, the process limit); `sandbox-output-invalid`:
  // the derivation's result.json does not match the schema.
  'no-setup-py': { retry: false },
  'setup-py-error': { retry: false },
  'missing-build-dependency': { retry: false },
  'python-incompatible': { retry: false },
  'sandbox-timeout': { retry: false },
  'sandbox-memory': { retry: false },
  'sandbox-output-too-large': { retry: false },
  'sandbox-failed': { retry: true },
  'sandbox-output-invalid': { retry: false },
  // appended by archive/extractor (sdists, packages/archive/readme.md, packages/extractor/readme.md):
  // a device or fifo entry in an sdist; an sdist whose dependencies are neither static
  // (PKG-INFO ≥ 2.2, PEP 621, poetry, flit) nor computable by its setup.py (it has none).
  'archive-device': { retry: false },
  'no-static-metadata': { retry: false },
  // appended by the operations work (issue 5): PostgreSQL went away under a job (restart,
  // failover, connection limit): the job is tried again later, never recorded as failed data.
  'database-unavailable': { retry: true, environment: true },
  // the sdist needs its setup.py run and this process has no proven Nix sandbox (no Nix,
  // SDIST_EXTRACTION=static, or the probe found the build unsandboxed): nothing of it ran. Not a
  // fault of the file: it is recorded as waiting, and runs where and when a sandbox is proven.
  'sandbox-unavailable': { retry: true },
  // Per-build limits (issue 10 §2), one code each. Per Python version: the script filled its own
  // directory (or /tmp); a process it started outlived it (killed). For the whole build (all
  // Pythons share one cgroup): it went over the build's memory cap (the kernel killed a process
  // of it); it went over the build's process cap.
  'sandbox-disk-full': { retry: false },
  'sandbox-process-escaped': { retry: false },
  'sandbox-build-memory': { retry: false },
  'sandbox-build-processes': { retry: false },
  // appended by issue 10 (data and network edges). Faults of this machine, not of the file:
  // the disk (or quota) under DATA_DIR is full; a read or write failed at the device (EIO, or
  // the file system went read-only); a host name of PYPI_URL / PYPI_FILES_HOSTS did not resolve
  // (remembered for a minute). `environment: true` (also tls-error, database-unavailable): a job
  // that ends with one is never recorded against its file or project (the file keeps "no
  // result", and `crawl --resume` or the next refresh takes it again).
  'disk-full': { retry: true, environment: true },
  'io-error': { retry: true, environment: true },
  'dns-error': { retry: true, environment: true },
  // an https request was redirected to plain http: never followed
  'insecure-redirect': { retry: false },
  // the server's TLS certificate did not verify (expired, wrong name, unknown CA): the host's fault
  'tls-error': { retry: true, environment: true },
  // another live process has the embedded database (PGlite directory) open
  'database-locked': { retry: false },
  // appended by issue 12: the index (PYPI_URL) did not answer a first short request at all (DNS
  // failure, connection refused, timeout), so a command gave up at once instead of retrying every job.
  'index-unreachable': { retry: true },
  // appended by issue 12 §9: per Python version, this machine has no interpreter of that version for
  // the sandbox (SANDBOX_PYTHONS, or none discovered; nix/README.md "Interpreters"): setup.py did not
  // run under it. Not a fault of the file: recorded as not run here (`waiting`), never as a failure.
  'python-unavailable': { retry: false },
} as const satisfies Record<string, { retry: boolean; environment?: boolean }>;

export type FailureCode = keyof typeof FAILURE_CODES;

/** What to do about a code, when the error itself brings no more precise hint. */
export const FAILURE_HINTS: Partial<Record<FailureCode, string>> = {
  'sandbox-disk-full':
    'setup.py wrote more than its directory may hold (diskMiB, nix/README.md "Limits"): a real build that needs more is not a metadata read',
  'sandbox-process-escaped':
    'setup.py left a process running after it ended (a daemon, a detached child): it was killed; no result is taken from such a run',
  'sandbox-build-memory':
    'the build as a whole went over its memory cap (nix/README.md "Limits"); its results are not kept, as any of its interpreters may have been the one killed',
  'sandbox-build-processes':
    'the build as a whole went over its process cap (nix/README.md "Limits"): a fork bomb, or a build that starts far more processes than reading metadata needs',
  'python-unavailable':
    'name the interpreter in SANDBOX_PYTHONS (or install it where discovery looks: nix/README.md "Interpreters"); `pnpm pypi-graph status` lists what was found',
  'sandbox-unavailable':
    'the setup.py stage needs Nix with a working sandbox (nix/README.md); once `pnpm status` shows it proven, `pnpm crawl --resume` runs what waits for it',
};

export function isFailureCode(value: string): value is FailureCode {
  return Object.hasOwn(FAILURE_CODES, value);
}

/**
 * Whether a code is a fault of the machine the job ran on (database gone, disk full, I/O error,
 * DNS), not of the file or project it was about: such a failure is retried, and never recorded
 * against its subject.
 */
export function isEnvironmentFault(code: FailureCode): boolean {
  const entry = FAILURE_CODES[code];
  return 'environment' in entry && entry.environment;
}

export interface CrawlErrorOptions {
  /** A sentence for the person who reads the error: what to do about it. */
  hint?: string;
  cause?: unknown;
  /** For 429/503: how long the server asked us to wait, in milliseconds. */
  retryAfterMs?: number;
  /** Extra structured facts for logs (url, status, file…). */
  details?: Record<string, unknown>;
}

/** The one error type of pypi-graph. `code` is stored, counted and used by recrawl. */
export class CrawlError extends Error {
  override readonly name = 'CrawlError';
  readonly code: FailureCode;
  readonly hint?: string;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: FailureCode, message: string, options: CrawlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint ?? FAILURE_HINTS[code];
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  /** Whether running the same work again may succeed. */
  get retryable(): boolean {
    return FAILURE_CODES[this.code].retry;
  }
}

export function isCrawlError(err: unknown): err is CrawlError {
  return err instanceof CrawlError;
}

/** Wraps anything thrown into a CrawlError, keeping CrawlErrors as they are. */
export function toCrawlError(err: unknown, fallback: FailureCode = 'internal-error'): CrawlError {
  if (err instanceof CrawlError) {
    // A final verdict on a file whose real cause was the local disk is the disk's fault.
    return err.retryable ? err : (localFault(err.cause) ?? err);
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new CrawlError('aborted', 'the operation was aborted', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  const local = localFault(err);
  if (local) return local;
  if (isDatabaseUnavailable(err)) {
    // A restart or failover takes seconds: the retries are spaced so that a job's few attempts
    // span it, instead of spending them all in the first second.
    return new CrawlError('database-unavailable', `the database is unavailable: ${message}`, {
      cause: err,
      retryAfterMs: 5_000,
    });
  }
  return new CrawlError(fallback, message, { cause: err });
}

/** SQLSTATE classes and codes that mean the server, not the query, failed. */
const PG_UNAVAILABLE = /^(08|57P0[1-3]|53300)/;
const PG_UNAVAILABLE_MESSAGE =
  /Connection terminated|terminating connection|the database system is (starting up|shutting down|in recovery)|Client has encountered a connection error|Connection ended unexpectedly|connect ECONNREFUSED/i;

/**
 * Whether an error (or one it wraps: drizzle wraps the driver's) says that PostgreSQL was
 * unreachable or went away, so that trying again later can succeed.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; severity?: unknown };
  if (typeof e.code === 'string' && typeof e.severity === 'string' && PG_UNAVAILABLE.test(e.code))
    return true;
  if (typeof e.message === 'string' && PG_UNAVAILABLE_MESSAGE.test(e.message)) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** errno codes that mean the local disk, not the data, failed. */
const DISK_FULL_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);
const IO_ERRNOS = new Set(['EIO', 'EROFS']);

/**
 * `disk-full` or `io-error` when an error (or one it wraps) is an ENOSPC/EDQUOT or EIO/EROFS of
 * a file system call; undefined otherwise. Code that turns "could not read this file" into a
 * verdict on the file (`archive-corrupt`, …) asks this first: a full disk says nothing about
 * the sdist being unpacked onto it.
 */
export function localFault(err: unknown, depth = 0): CrawlError | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  if (err instanceof CrawlError && (err.code === 'disk-full' || err.code === 'io-error')) return err;
  const e = err as { code?: unknown; path?: unknown; syscall?: unknown; cause?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const details = { errno: code, syscall: e.syscall, path: e.path };
  if (code !== undefined && DISK_FULL_ERRNOS.has(code)) {
    return new CrawlError('disk-full', `no space left on the device: ${message}`, {
      cause: err,
      hint: 'free space where DATA_DIR is (downloads and unpacked sdists go to $DATA_DIR/tmp), then `pnpm crawl --resume`',
      details,
    });
  }
  if (code !== undefined && IO_ERRNOS.has(code)) {
    return new CrawlError('io-error', `input/output error: ${message}`, {
      cause: err,
      hint: 'the disk under DATA_DIR failed a read or write (see dmesg); fix or replace it, then `pnpm crawl --resume`',
      details,
    });
  }
  return localFault(e.cause, depth + 1);
}
