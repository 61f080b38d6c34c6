/**
 * Every failure code pypi-graph knows, by the stage that raises it, each with what it means and
 * what to do about it. The code is what the database stores, what `pnpm recrawl --code` selects
 * and what decides retry vs. permanent failure. Stable kebab-case strings: never rename one, only
 * add. docs/failure-codes.md is this list as a table (test/repo/failure-codes.test.ts keeps the
 * two equal). A code is created only through its stage's factory (`archiveError('archive-corrupt',
 * message)`), which accepts only that stage's codes.
 *
 * `retry`: running the same work again may succeed. `environment`: a fault of the machine the job
 * ran on (database gone, disk full, DNS, TLS), not of the file or project it was about: a job that
 * ends with one is never recorded against its subject (the file keeps "no result", and
 * `crawl --resume` or the next refresh takes it again).
 */
interface CodeInfo {
  readonly retry: boolean;
  readonly environment?: boolean;
  /** One line: what happened. */
  readonly meaning: string;
  /** What to do about it, when the error itself brings no more precise hint. */
  readonly hint: string;
}

const STAGES = {
  http: {
    'network-error': {
      retry: true,
      meaning: 'the connection failed or was reset before an answer came',
      hint: 'retried with backoff; if it persists, check the network path to PYPI_URL',
    },
    'http-timeout': {
      retry: true,
      meaning: 'the server did not answer (or finish answering) within the deadline',
      hint: 'retried with backoff; a slow mirror may need a larger HTTP_DEADLINE_MS',
    },
    'http-429': {
      retry: true,
      meaning: 'the server asked us to slow down (429)',
      hint: 'retried after the wait the server asked for',
    },
    'http-5xx': {
      retry: true,
      meaning: 'the server failed to answer (5xx)',
      hint: 'retried with backoff: the server side is at fault',
    },
    'xmlrpc-rate-limited': {
      retry: true,
      meaning: "PyPI's XML-RPC endpoint refused the call for too many requests",
      hint: 'retried later',
    },
    'body-truncated': {
      retry: true,
      meaning: 'the answer ended before the length it announced',
      hint: 'retried: the connection was cut mid-answer',
    },
    'http-4xx': {
      retry: false,
      meaning: 'the server refused the request (4xx other than 404 and 429)',
      hint: 'the request is final for this server; recrawl the failed work once the server serves it',
    },
    'project-not-found': {
      retry: false,
      meaning: 'no such project: the index answered 404, or the database has none of that name',
      hint: 'check the name (for a query of the database: that the project was crawled)',
    },
    'url-host-not-allowed': {
      retry: false,
      meaning: 'a file URL points to a host outside PYPI_URL and PYPI_FILES_HOSTS',
      hint: 'add the host to PYPI_FILES_HOSTS if its files are to be read',
    },
    'response-too-large': {
      retry: false,
      meaning: 'an answer was larger than pypi-graph is willing to read',
      hint: 'the limits protect memory from a hostile or broken server; nothing to do for one file',
    },
    'response-invalid': {
      retry: false,
      meaning:
        'an answer was not what the protocol says (JSON, HTML or XML-RPC that does not parse or validate)',
      hint: 'the server is broken or not a PyPI index: check PYPI_URL',
    },
    'xmlrpc-fault': {
      retry: false,
      meaning: 'the XML-RPC endpoint answered with a fault',
      hint: 'the fault string says why; check that PYPI_URL serves the PyPI XML-RPC API',
    },
    'range-not-supported': {
      retry: false,
      meaning: 'the server answered a Range request with the whole file and the bytes lie too far in',
      hint: 'nothing to do: the wheel is downloaded whole instead',
    },
    'insecure-redirect': {
      retry: false,
      meaning: 'an https request was redirected to plain http, which is never followed',
      hint: 'point PYPI_URL (or the file host) at an address that stays on https',
    },
    'tls-error': {
      retry: true,
      environment: true,
      meaning: "the server's TLS certificate did not verify (expired, wrong name, unknown CA)",
      hint: "fix the host's certificate, or trust its CA through NODE_EXTRA_CA_CERTS",
    },
    'dns-error': {
      retry: true,
      environment: true,
      meaning: 'a host name of PYPI_URL or PYPI_FILES_HOSTS did not resolve (remembered for a minute)',
      hint: 'check PYPI_URL and PYPI_FILES_HOSTS and the resolver of this machine',
    },
    'index-unreachable': {
      retry: true,
      meaning: 'the index did not answer a first short request at all, so the command gave up at once',
      hint: 'check PYPI_URL and that the index is up, then run the command again',
    },
  },
  download: {
    'download-sha256-mismatch': {
      retry: true,
      meaning: "a downloaded file's sha256 differs from the one the index advertised",
      hint: 'retried: a cache or proxy between us and the file host may have served other bytes',
    },
    'download-size-mismatch': {
      retry: true,
      meaning: "a downloaded file's size differs from the one the index advertised",
      hint: 'retried: the download was cut or the file changed under the index',
    },
    'metadata-sha256-mismatch': {
      retry: true,
      meaning:
        'the PEP 658 .metadata file does not match the sha256 the index advertised (the wheel itself is read instead)',
      hint: 'nothing to do: recorded, and the dependencies come from the wheel',
    },
  },
  archive: {
    'archive-corrupt': {
      retry: false,
      meaning: 'the archive is broken: bad structure, headers that disagree, bad compressed data or CRC',
      hint: 'the file itself is broken on the index; nothing to do unless it is re-uploaded',
    },
    'archive-unsupported': {
      retry: false,
      meaning:
        'the archive uses a format or feature the reader does not support (compression method, encryption)',
      hint: 'the file is recorded as failed; its dependencies are not read',
    },
    'archive-path-traversal': {
      retry: false,
      meaning: 'an entry name is absolute or climbs out of the archive (..)',
      hint: 'a hostile or broken archive: nothing of it is unpacked',
    },
    'archive-too-large': {
      retry: false,
      meaning: 'the archive (or what it unpacks to) is larger than the limits allow',
      hint: 'the limits protect disk and memory; nothing to do for one file',
    },
    'archive-too-many-entries': {
      retry: false,
      meaning: 'the archive has more entries than the limits allow',
      hint: 'the limits protect disk and memory; nothing to do for one file',
    },
    'archive-bomb': {
      retry: false,
      meaning: 'an entry unpacks to far more bytes than its compressed size (a compression bomb)',
      hint: 'a hostile archive: it is not unpacked',
    },
    'archive-link': {
      retry: false,
      meaning: 'a symbolic or hard link entry where links are not allowed',
      hint: 'a link could point out of the unpacked tree: the archive is not unpacked',
    },
    'archive-duplicate-entry': {
      retry: false,
      meaning: 'two entries of the archive share the path that is read (METADATA)',
      hint: 'which one a reader takes is undefined: no dependencies are taken from it',
    },
    'archive-device': {
      retry: false,
      meaning: 'a device or fifo entry in an sdist',
      hint: 'a hostile or broken sdist: it is not unpacked',
    },
  },
  metadata: {
    'metadata-invalid': {
      retry: false,
      meaning: 'the core metadata (METADATA, PKG-INFO) does not parse',
      hint: 'the file carries broken metadata; nothing to do unless it is re-uploaded',
    },
    'metadata-missing': {
      retry: false,
      meaning: 'the archive has no core metadata where the format says it must be',
      hint: 'the file carries no metadata to read; nothing to do unless it is re-uploaded',
    },
    'metadata-too-large': {
      retry: false,
      meaning: 'the core metadata is larger than the limit',
      hint: 'the limit protects memory; nothing to do for one file',
    },
    'filename-invalid': {
      retry: false,
      meaning: 'a file name is not a valid wheel or sdist name',
      hint: 'the name says nothing pypi-graph can use; fix it upstream',
    },
    'version-invalid': {
      retry: false,
      meaning: 'a version is not PEP 440',
      hint: 'the version cannot be compared or ordered; fix it upstream',
    },
    'requirement-invalid': {
      retry: false,
      meaning: 'a requirement is not PEP 508',
      hint: 'the requirement cannot be read; fix it upstream',
    },
    'marker-invalid': {
      retry: false,
      meaning: 'an environment marker is not PEP 508',
      hint: 'the requirement it guards cannot be evaluated; fix it upstream',
    },
    'specifier-invalid': {
      retry: false,
      meaning: 'a version specifier set (Requires-Python, a clause of a requirement) is not PEP 440',
      hint: 'the specifier cannot be evaluated; fix it upstream',
    },
  },
  wheel: {
    'wheel-multiple-dist-info': {
      retry: false,
      meaning: 'more than one top-level .dist-info directory holds a METADATA',
      hint: 'which one installers take is undefined: no dependencies are taken from the wheel',
    },
    'wheel-dist-info-mismatch': {
      retry: false,
      meaning: "the one .dist-info directory does not name the wheel's project and version",
      hint: 'the wheel is inconsistent: no dependencies are taken from it',
    },
  },
  sdist: {
    'no-static-metadata': {
      retry: false,
      meaning:
        'an sdist whose dependencies are neither static (PKG-INFO ≥ 2.2, PEP 621, poetry, flit) nor computable by its setup.py (it has none)',
      hint: 'there is nothing to read: the sdist declares no dependencies in a form that can be read',
    },
  },
  sandbox: {
    'no-setup-py': {
      retry: false,
      meaning: 'per Python version: the sdist has no setup.py',
      hint: 'nothing to run: the sdist has no setup.py',
    },
    'setup-py-error': {
      retry: false,
      meaning: 'per Python version: setup.py raised, exited non-zero or never called setup()',
      hint: 'the log and tail of the result show the traceback',
    },
    'missing-build-dependency': {
      retry: false,
      meaning:
        "per Python version: setup.py imported a module that is not installed (No module named 'numpy')",
      hint: 'the sandbox installs the declared build dependencies only; an undeclared import cannot be met',
    },
    'python-incompatible': {
      retry: false,
      meaning: 'per Python version: setup.py is a SyntaxError for that interpreter',
      hint: 'the sdist does not support this Python; its other versions may have results',
    },
    'sandbox-timeout': {
      retry: false,
      meaning: 'per Python version: setup.py hit the wall or CPU time limit',
      hint: 'the limits are in nix/README.md "Limits"; a script that needs more is not a metadata read',
    },
    'sandbox-memory': {
      retry: false,
      meaning: 'per Python version: setup.py hit the memory limit',
      hint: 'the limits are in nix/README.md "Limits"; a script that needs more is not a metadata read',
    },
    'sandbox-output-too-large': {
      retry: false,
      meaning: 'per Python version: setup.py wrote more output than the limit',
      hint: 'the limits are in nix/README.md "Limits"',
    },
    'sandbox-failed': {
      retry: true,
      meaning: 'the sandbox itself failed (nix-build error, unreadable sdist, the process limit)',
      hint: "retried; the details carry the end of nix-build's output",
    },
    'sandbox-output-invalid': {
      retry: false,
      meaning: "the derivation's result.json does not match the schema",
      hint: 'driver.py and the schema disagree, or setup.py tampered with the output: the details say where',
    },
    'sandbox-unavailable': {
      retry: true,
      meaning:
        'the sdist needs its setup.py run and this process has no proven Nix sandbox: nothing of it ran (recorded as waiting)',
      hint: 'the setup.py stage needs Nix with a working sandbox (nix/README.md); once `pnpm status` shows it proven, `pnpm crawl --resume` runs what waits for it',
    },
    'sandbox-disk-full': {
      retry: false,
      meaning: 'per Python version: the script filled its own directory (or /tmp)',
      hint: 'setup.py wrote more than its directory may hold (diskMiB, nix/README.md "Limits"): a real build that needs more is not a metadata read',
    },
    'sandbox-process-escaped': {
      retry: false,
      meaning: 'per Python version: a process the script started outlived it (killed)',
      hint: 'setup.py left a process running after it ended (a daemon, a detached child): it was killed; no result is taken from such a run',
    },
    'sandbox-build-memory': {
      retry: false,
      meaning: "the whole build (all Pythons share one cgroup) went over the build's memory cap",
      hint: 'the build as a whole went over its memory cap (nix/README.md "Limits"); its results are not kept, as any of its interpreters may have been the one killed',
    },
    'sandbox-build-processes': {
      retry: false,
      meaning: "the whole build went over the build's process cap",
      hint: 'the build as a whole went over its process cap (nix/README.md "Limits"): a fork bomb, or a build that starts far more processes than reading metadata needs',
    },
    'python-unavailable': {
      retry: false,
      meaning:
        'per Python version: this machine has no interpreter of that version for the sandbox (recorded as not run here)',
      hint: 'name the interpreter in SANDBOX_PYTHONS (or install it where discovery looks: nix/README.md "Interpreters"); `pnpm pypi-graph status` lists what was found',
    },
  },
  database: {
    'database-unavailable': {
      retry: true,
      environment: true,
      meaning: 'PostgreSQL went away under a job (restart, failover, connection limit)',
      hint: 'the job is tried again later; check that DATABASE_URL is up if it persists',
    },
    'database-locked': {
      retry: false,
      meaning: 'another live process has the embedded database (PGlite directory) open',
      hint: 'stop the other process, or point DATABASE_URL at PostgreSQL to run several at once',
    },
  },
  host: {
    'disk-full': {
      retry: true,
      environment: true,
      meaning: 'the disk (or quota) under DATA_DIR is full',
      hint: 'free space where DATA_DIR is (downloads and unpacked sdists go to $DATA_DIR/tmp), then `pnpm crawl --resume`',
    },
    'io-error': {
      retry: true,
      environment: true,
      meaning: 'a read or write failed at the device (EIO, or the file system went read-only)',
      hint: 'the disk under DATA_DIR failed a read or write (see dmesg); fix or replace it, then `pnpm crawl --resume`',
    },
  },
  config: {
    'config-invalid': {
      retry: false,
      meaning: 'a setting or argument is missing or not valid',
      hint: 'the message names the setting; README.md "Configuration" lists them all',
    },
    'since-invalid': {
      retry: false,
      meaning: 'a --since value is not a serial, a date or a time ago',
      hint: 'use a serial (12345678), today, yesterday, "3 days ago" or an ISO date (2024-05-01)',
    },
  },
  job: {
    'job-payload-invalid': {
      retry: false,
      meaning: "a queued job's payload does not match its schema",
      hint: 'the job is not run: pypi-graph writes its jobs itself, so another version (or a hand-made job) wrote it',
    },
    aborted: {
      retry: true,
      meaning: 'the work was stopped (shutdown, a signal, a deadline) before it ended',
      hint: 'nothing to do: unfinished work is taken again by `pnpm crawl --resume` or the next refresh',
    },
  },
  snapshot: {
    'snapshot-failed': {
      retry: false,
      meaning: 'writing or publishing a snapshot failed',
      hint: 'the message says which step failed',
    },
  },
  internal: {
    'internal-error': {
      retry: false,
      meaning: 'an error pypi-graph did not expect (a bug)',
      hint: 'please report it with the log line that carries it',
    },
  },
} as const satisfies Record<string, Record<string, CodeInfo>>;

export type FailureStage = keyof typeof STAGES;
type StageCodes = { [S in FailureStage]: keyof (typeof STAGES)[S] & string };
/** The codes of one stage: what its factory accepts. */
export type StageCode<S extends FailureStage> = StageCodes[S];
export type FailureCode = StageCodes[FailureStage];

/** What each stage covers, in the order docs/failure-codes.md lists them. */
export const FAILURE_STAGE_TITLES: Readonly<Record<FailureStage, string>> = {
  http: 'Talking to the index and the file hosts: network, HTTP, XML-RPC (packages/pypi-client).',
  download: 'Checking downloaded bytes against what the index advertised.',
  archive: 'Reading zip and tar archives (packages/archive).',
  metadata:
    'Parsing core metadata, file names, versions, specifiers, requirements, markers (packages/pyspec).',
  wheel: "Reading a wheel's METADATA (packages/extractor/src/wheel).",
  sdist: "Reading an sdist's static metadata (packages/extractor/src/sdist).",
  sandbox: 'Running setup.py in the Nix sandbox (packages/extractor/src/sandbox, nix/README.md).',
  database: 'The database (packages/db).',
  host: 'The machine the job runs on: its disk under DATA_DIR.',
  config: 'Configuration and command-line arguments (packages/config, packages/cli).',
  job: 'Jobs and queues (packages/pipeline).',
  snapshot: 'Writing a snapshot (packages/snapshot).',
  internal: 'A fault of pypi-graph itself.',
};

export interface FailureCodeInfo extends CodeInfo {
  readonly stage: FailureStage;
}

/** Every code, flat: `FAILURE_CODES[code].retry`, `.environment`, `.meaning`, `.hint`, `.stage`. */
export const FAILURE_CODES: Readonly<Record<FailureCode, FailureCodeInfo>> = Object.freeze(
  Object.fromEntries(
    Object.entries(STAGES).flatMap(([stage, codes]) =>
      Object.entries(codes as Record<string, CodeInfo>).map(([code, info]) => [code, { ...info, stage }]),
    ),
  ) as Record<FailureCode, FailureCodeInfo>,
);

export const FAILURE_STAGES = Object.keys(STAGES) as FailureStage[];

/** What to do about a code, when the error itself brings no more precise hint. */
export const FAILURE_HINTS: Readonly<Record<FailureCode, string>> = Object.freeze(
  Object.fromEntries(Object.entries(FAILURE_CODES).map(([code, info]) => [code, info.hint])) as Record<
    FailureCode,
    string
  >,
);

export function isFailureCode(value: string): value is FailureCode {
  return Object.hasOwn(FAILURE_CODES, value);
}

/**
 * Whether a code is a fault of the machine the job ran on (database gone, disk full, I/O error,
 * DNS), not of the file or project it was about: such a failure is retried, and never recorded
 * against its subject.
 */
export function isEnvironmentFault(code: FailureCode): boolean {
  return FAILURE_CODES[code].environment === true;
}

export interface CrawlErrorOptions {
  /** A sentence for the person who reads the error: what to do about it (else the code's hint). */
  hint?: string;
  cause?: unknown;
  /** For 429/503: how long the server asked us to wait, in milliseconds. */
  retryAfterMs?: number;
  /** Extra structured facts for logs (url, status, file…). */
  details?: Record<string, unknown>;
}

/**
 * The one error type of pypi-graph. `code` is stored, counted and used by recrawl. Created through
 * the factories below (`archiveError(…)`, `crawlError(…)`), not with `new` outside this file.
 */
export class CrawlError extends Error {
  override readonly name = 'CrawlError';
  readonly code: FailureCode;
  /** The hint it was created with, else its code's. */
  readonly hint: string;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;
  readonly #ownHint?: string;

  constructor(code: FailureCode, message: string, options: CrawlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.#ownHint = options.hint;
    this.hint = options.hint ?? FAILURE_CODES[code].hint;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  /** Whether running the same work again may succeed. */
  get retryable(): boolean {
    return FAILURE_CODES[this.code].retry;
  }

  /** The hint it was created with, else `fallback` (a caller that knows more than the code's hint). */
  hintOr(fallback: string): string {
    return this.#ownHint ?? fallback;
  }

  /** One line: what the code means. */
  get meaning(): string {
    return FAILURE_CODES[this.code].meaning;
  }

  /** The stage whose list holds the code. */
  get stage(): FailureStage {
    return FAILURE_CODES[this.code].stage;
  }
}

/** A failure of any code: for codes that arrive as data (a stored code, driver.py's result). */
export function crawlError(code: FailureCode, message: string, options?: CrawlErrorOptions): CrawlError {
  return new CrawlError(code, message, options);
}

type Factory<S extends FailureStage> = (
  code: StageCode<S>,
  message: string,
  options?: CrawlErrorOptions,
) => CrawlError;

function factory<S extends FailureStage>(_stage: S): Factory<S> {
  return (code, message, options) => new CrawlError(code, message, options);
}

/** Network, HTTP and XML-RPC failures of the index and the file hosts. */
export const httpError = factory('http');
/** Downloaded bytes that are not the ones the index advertised. */
export const downloadError = factory('download');
/** Zip and tar archives that cannot (or must not) be read. */
export const archiveError = factory('archive');
/** Core metadata, file names, versions, specifiers, requirements, markers that do not parse. */
export const metadataError = factory('metadata');
/** Wheels whose METADATA cannot be told apart. */
export const wheelError = factory('wheel');
/** Sdists whose static metadata does not answer. */
export const sdistError = factory('sdist');
/** The setup.py sandbox. */
export const sandboxError = factory('sandbox');
/** The database. */
export const databaseError = factory('database');
/** The disk under DATA_DIR. */
export const hostError = factory('host');
/** Settings and command-line arguments. */
export const configError = factory('config');
/** Jobs and queues. */
export const jobError = factory('job');
/** Snapshots. */
export const snapshotError = factory('snapshot');

/** `internal-error`: something pypi-graph did not expect. */
export function internalError(message: string, options?: CrawlErrorOptions): CrawlError {
  return new CrawlError('internal-error', message, options);
}

/**
 * A programmer error: an invariant of the code itself that does not hold (a query that must
 * return a row returned none, a parser asked for a token it has not read). Not a failure of any
 * data, never stored under a code of its own: it is an `internal-error`, named so at the throw.
 */
export function invariantError(message: string, options?: CrawlErrorOptions): CrawlError {
  return new CrawlError('internal-error', message, options);
}

export function isCrawlError(err: unknown): err is CrawlError {
  return err instanceof CrawlError;
}

/**
 * Turns a thrown value into the CrawlError of a fault outside pypi-graph's own code (the
 * database going away: packages/db registers one), or undefined when it is none of theirs.
 */
export type FaultClassifier = (err: unknown) => CrawlError | undefined;
const classifiers: FaultClassifier[] = [];

/**
 * Lets a package that owns a kind of error (packages/db owns SQL and its SQLSTATEs) teach
 * toCrawlError to recognise it. Registering the same function again does nothing.
 */
export function registerFaultClassifier(classify: FaultClassifier): void {
  if (!classifiers.includes(classify)) classifiers.push(classify);
}

/** Wraps anything thrown into a CrawlError, keeping CrawlErrors as they are. */
export function toCrawlError(err: unknown, fallback: FailureCode = 'internal-error'): CrawlError {
  if (err instanceof CrawlError) {
    // A final verdict on a file whose real cause was the local disk is the disk's fault.
    return err.retryable ? err : (localFault(err.cause) ?? err);
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return jobError('aborted', 'the operation was aborted', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  const local = localFault(err);
  if (local) return local;
  for (const classify of classifiers) {
    const classified = classify(err);
    if (classified) return classified;
  }
  return crawlError(fallback, message, { cause: err });
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
    return hostError('disk-full', `no space left on the device: ${message}`, { cause: err, details });
  }
  if (code !== undefined && IO_ERRNOS.has(code)) {
    return hostError('io-error', `input/output error: ${message}`, { cause: err, details });
  }
  return localFault(e.cause, depth + 1);
}
