import { accessSync, constants, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CrawlError, configError } from '@pypi-graph/core';
import { PYTHON_KEYS } from '@pypi-graph/model';
import { z } from 'zod';

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

/** Interpreters one sdist build runs at once (DEFAULT_SANDBOX_LIMITS.parallelism in packages/extractor). */
export const SANDBOX_PARALLELISM = 3;
/** Memory cap of one sdist build's cgroup, MiB (DEFAULT_BUILD_LIMITS.memoryMiB in packages/extractor). */
export const BUILD_MEMORY_MIB = 2048;

/**
 * SDIST_CONCURRENCY when unset, from the machine (docs/operations.md, "Sdist concurrency"): one build
 * keeps SANDBOX_PARALLELISM cores busy while its interpreters run, and none while it hashes, adds,
 * evaluates, sets up its sandbox and unpacks (one core at most): ceil(cores / parallelism) builds fill
 * the cores, one more overlaps those serial steps, and never fewer than 2 for that reason; never more
 * than the memory holds at every build's cgroup cap.
 */
export function defaultSdistConcurrency(
  cores = os.availableParallelism(),
  memoryMiB = os.totalmem() / 1024 / 1024,
): number {
  const byCores = Math.max(2, Math.ceil(cores / SANDBOX_PARALLELISM) + 1);
  const byMemory = Math.max(1, Math.floor(memoryMiB / BUILD_MEMORY_MIB));
  return Math.min(byCores, byMemory);
}

/**
 * The environment pypi-graph reads, and nothing else. Every variable is documented
 * in README.md (Configuration); keep the two in step.
 */
export const EnvSchema = z.object({
  /** PostgreSQL connection string. Unset: an embedded PGlite database in `$DATA_DIR/pglite`. */
  DATABASE_URL: z.string().url().optional(),
  /** Redis connection string. Unset: jobs run in the CLI's own process (embedded runner). */
  REDIS_URL: z.string().url().optional(),
  /** Where embedded data, downloads and snapshots live by default. */
  DATA_DIR: z.string().default('.data'),
  /** The package index: pypi.org by default, or the local server (`pnpm pypi-server`). */
  PYPI_URL: z.string().url().default('https://pypi.org'),
  /** Hosts that file URLs may point to (comma separated), besides the host of PYPI_URL. */
  PYPI_FILES_HOSTS: csv.default(['files.pythonhosted.org']),
  /** Contact put in the User-Agent, so that PyPI's admins can reach the operator. */
  PYPI_CONTACT: z.string().default('unknown'),
  /** Most XML-RPC requests per second, across every worker (PyPI asks for at most 1). */
  XMLRPC_RPS: z.coerce.number().positive().default(1),
  /** Most HTTP requests per second per host for the Simple/JSON APIs and files; 0 = unlimited. */
  HTTP_RPS_PER_HOST: z.coerce.number().min(0).default(20),
  /** Most simultaneous HTTP connections per host. */
  HTTP_CONNECTIONS_PER_HOST: intFrom(16, 1),
  /** Timeout of one HTTP request (headers and each body chunk), milliseconds. */
  HTTP_TIMEOUT_MS: intFrom(60_000, 1),
  /**
   * Total time one HTTP request may take, from sending it to the last body byte, milliseconds:
   * a server that drips a byte at a time never trips HTTP_TIMEOUT_MS, but trips this.
   */
  HTTP_DEADLINE_MS: intFrom(600_000, 1),
  /** Attempts for one HTTP request that fails with a retryable error. */
  HTTP_ATTEMPTS: intFrom(5, 1),
  /** Largest JSON/XML/HTML answer accepted from the index, bytes. */
  HTTP_MAX_RESPONSE_BYTES: intFrom(64 * 1024 * 1024, 1024),
  /** Prefix of every Redis key (BullMQ queues and rate limits), so deployments can share a Redis. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('pypi-graph'),
  /**
   * Most jobs waiting per queue (project, wheel-metadata, sdist-extract) that a crawl's feeder
   * keeps in Redis (or in the embedded runner's memory); the rest of the backlog waits in the
   * database and is enqueued as the window drains. 0 = no window: every job is enqueued at once.
   */
  QUEUE_WINDOW: intFrom(2000, 0),
  /** Concurrent project jobs per process. */
  PROJECT_CONCURRENCY: intFrom(16, 1),
  /** Concurrent wheel-metadata jobs per process (network-bound: range reads). */
  WHEEL_CONCURRENCY: intFrom(8, 1),
  /**
   * Concurrent sdist jobs per process; each runs three of its nine interpreters at a time already.
   * Unset: from the cores and memory (defaultSdistConcurrency), 2 on a 2-core machine.
   */
  SDIST_CONCURRENCY: intFrom(defaultSdistConcurrency(), 1),
  /**
   * How sdist dependencies are learnt: `sandbox` (static metadata, else setup.py in the Nix
   * sandbox), `static` (static metadata only), `off`, or `auto` (sandbox when nix-build is found).
   */
  SDIST_EXTRACTION: z.enum(['auto', 'sandbox', 'static', 'off']).default('auto'),
  /** Read wheel METADATA during crawls (`on`), or store the file index only (`off`). */
  WHEEL_METADATA: z.enum(['on', 'off']).default('on'),
  /** Interpreters of the sandbox: `host` (pyenv, read-only via extra-sandbox-paths) or `nixpkgs`. */
  SANDBOX_INTERPRETERS: z.enum(['host', 'nixpkgs']).default('host'),
  /**
   * The sandbox's interpreters (host mode), `KEY=PATH` comma separated: `27=/usr/bin/python2.7,
   * 312=/opt/py/bin/python3.12`. Only the versions named are used; the others are recorded as
   * `python-unavailable`. Unset: discovered (PYENV_ROOT, ~/.pyenv, uv's, /usr/local/bin, /usr/bin).
   */
  SANDBOX_PYTHONS: z.string().optional(),
  /** pyenv's root, looked at first by the interpreter discovery when SANDBOX_PYTHONS is unset. */
  PYENV_ROOT: z.string().optional(),
  /**
   * `required`: each sdist build runs in a cgroup of its own with a memory and a process cap, and
   * without cgroups no setup.py runs (fail closed); `off`: per-process limits only.
   */
  SANDBOX_CGROUPS: z.enum(['required', 'off']).default('required'),
  /** `on`: an sdist's sandbox output (and its derivation and source) leave the Nix store once its results are stored. */
  SANDBOX_GC: z.enum(['on', 'off']).default('on'),
  /** Where `pnpm snapshot` writes when `--out` is not given. */
  SNAPSHOT_DIR: z.string().optional(),
  /**
   * Snapshots kept in the snapshot directory by `pnpm snapshot` and the scheduler, the new one
   * included (older ones are removed; never the one `latest` points to).
   */
  SNAPSHOT_KEEP: intFrom(3, 1),
  /** When `pnpm scheduler` refreshes: a cron expression in UTC (five fields). */
  SCHEDULE: z.string().min(1).default('0 */12 * * *'),
  /**
   * Port of the Prometheus endpoint (`GET /metrics`) of `pnpm worker` and the scheduler.
   * Unset: no endpoint; 0: a free port, which is logged.
   */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Interface the metrics endpoint listens on. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * HTTP basic-auth credentials of `pnpm dashboard`. Required (both) when it listens on anything
   * but loopback; when set, required on loopback too.
   */
  DASHBOARD_USER: z.string().min(1).optional(),
  DASHBOARD_PASSWORD: z.string().min(1).optional(),
  /** Host names, besides its own address and localhost, that `pnpm dashboard` answers to (comma separated). */
  DASHBOARD_HOSTS: csv.default([]),
  /** pino level. */
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Set by CI systems: no progress bars. */
  CI: z.string().optional(),
});

export type Env = z.input<typeof EnvSchema>;

export interface Config {
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly pglitePath: string;
  readonly pypiUrl: string;
  readonly filesHosts: readonly string[];
  readonly contact: string;
  readonly userAgent: string;
  readonly xmlrpcRps: number;
  readonly httpRpsPerHost: number;
  readonly httpConnectionsPerHost: number;
  readonly httpTimeoutMs: number;
  readonly httpDeadlineMs: number;
  readonly httpAttempts: number;
  readonly httpMaxResponseBytes: number;
  readonly queuePrefix: string;
  /** QUEUE_WINDOW: most waiting jobs per queue; 0 = unlimited (the whole backlog at once). */
  readonly queueWindow: number;
  readonly projectConcurrency: number;
  readonly wheelConcurrency: number;
  readonly sdistConcurrency: number;
  readonly sdistExtraction: 'auto' | 'sandbox' | 'static' | 'off';
  readonly sandboxInterpreters: 'host' | 'nixpkgs';
  /**
   * SANDBOX_PYTHONS: Python key → absolute path of an executable file, as the operator named it;
   * undefined when unset (the interpreters are then discovered, packages/extractor sandbox/pythons.ts).
   */
  readonly sandboxPythons: Readonly<Record<string, string>> | undefined;
  /** PYENV_ROOT, absolute, if set. */
  readonly pyenvRoot: string | undefined;
  /** Per-build cgroups: `required` (fail closed without them) or `off` (per-process limits only). */
  readonly sandboxCgroups: 'required' | 'off';
  /** Delete each sdist's store paths once its results are stored (the interpreters and tools stay). */
  readonly sandboxGc: boolean;
  readonly wheelMetadata: boolean;
  readonly snapshotDir: string;
  /** Snapshots to keep, the new one included. */
  readonly snapshotKeep: number;
  /** Cron expression (UTC) of the scheduled refresh. */
  readonly schedule: string;
  /** undefined: no metrics endpoint; 0: any free port. */
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  readonly dashboardUser: string | undefined;
  readonly dashboardPassword: string | undefined;
  /** Lower-cased host names the dashboard answers to besides its address and localhost. */
  readonly dashboardHosts: readonly string[];
  readonly logLevel: string;
  readonly ci: boolean;
}

export const VERSION = '0.1.0';

function sandboxPythonsInvalid(message: string): CrawlError {
  return configError('config-invalid', `invalid configuration: SANDBOX_PYTHONS: ${message}`, {
    hint: 'SANDBOX_PYTHONS is KEY=PATH, comma separated, each PATH an executable Python of that version: 27=/usr/bin/python2.7,312=/opt/python3.12/bin/python3.12 (nix/README.md "Interpreters")',
  });
}

/**
 * Parses SANDBOX_PYTHONS (`27=/path/python2.7,36=…`): each key a known Python version, at most
 * once, each path an existing executable file (relative paths are taken from `cwd`). Whether the
 * file is a Python of that version is checked when the sandbox resolves its interpreters (it has
 * to run it); here only what needs no process, so every command refuses a mistyped path at once.
 */
export function parseSandboxPythons(text: string, cwd = process.cwd()): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw sandboxPythonsInvalid('names no interpreter');
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) {
      throw sandboxPythonsInvalid(`${JSON.stringify(entry)} is not KEY=PATH`);
    }
    const key = entry.slice(0, eq).trim().replace(/^py/, '').replace('.', '');
    const file = path.resolve(cwd, entry.slice(eq + 1).trim());
    if (!(PYTHON_KEYS as readonly string[]).includes(key)) {
      throw sandboxPythonsInvalid(
        `${JSON.stringify(entry)}: unknown Python version ${JSON.stringify(entry.slice(0, eq))} (one of ${PYTHON_KEYS.join(', ')})`,
      );
    }
    if (out[key] !== undefined) throw sandboxPythonsInvalid(`Python ${key} is named twice`);
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw sandboxPythonsInvalid(
        `${key}=${file}: ${code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : `cannot be read (${code})`}`,
      );
    }
    if (!isFile) throw sandboxPythonsInvalid(`${key}=${file}: not a file`);
    try {
      accessSync(file, constants.X_OK);
    } catch {
      throw sandboxPythonsInvalid(`${key}=${file}: not executable`);
    }
    out[key] = file;
  }
  return out;
}

/** Parses the environment once; the result is frozen. Only this function reads `process.env`. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw configError('config-invalid', `invalid configuration: ${issues}`, {
      hint: 'see "Configuration" in README.md',
    });
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  const pypiUrl = e.PYPI_URL.replace(/\/+$/, '');
  const pypiHost = new URL(pypiUrl).host;
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir,
    pglitePath: path.join(dataDir, 'pglite'),
    pypiUrl,
    filesHosts: Object.freeze([...new Set([pypiHost, ...e.PYPI_FILES_HOSTS])]),
    contact: e.PYPI_CONTACT,
    userAgent: `pypi-graph/${VERSION} (+https://github.com/pypi-graph/pypi-graph; contact: ${e.PYPI_CONTACT})`,
    xmlrpcRps: e.XMLRPC_RPS,
    httpRpsPerHost: e.HTTP_RPS_PER_HOST,
    httpConnectionsPerHost: e.HTTP_CONNECTIONS_PER_HOST,
    httpTimeoutMs: e.HTTP_TIMEOUT_MS,
    httpDeadlineMs: e.HTTP_DEADLINE_MS,
    httpAttempts: e.HTTP_ATTEMPTS,
    httpMaxResponseBytes: e.HTTP_MAX_RESPONSE_BYTES,
    queuePrefix: e.QUEUE_PREFIX,
    queueWindow: e.QUEUE_WINDOW,
    projectConcurrency: e.PROJECT_CONCURRENCY,
    wheelConcurrency: e.WHEEL_CONCURRENCY,
    sdistConcurrency: e.SDIST_CONCURRENCY,
    sdistExtraction: e.SDIST_EXTRACTION,
    sandboxInterpreters: e.SANDBOX_INTERPRETERS,
    sandboxPythons:
      e.SANDBOX_PYTHONS === undefined ? undefined : Object.freeze(parseSandboxPythons(e.SANDBOX_PYTHONS)),
    pyenvRoot: e.PYENV_ROOT === undefined ? undefined : path.resolve(e.PYENV_ROOT),
    sandboxCgroups: e.SANDBOX_CGROUPS,
    sandboxGc: e.SANDBOX_GC === 'on',
    wheelMetadata: e.WHEEL_METADATA === 'on',
    snapshotDir: path.resolve(e.SNAPSHOT_DIR ?? path.join(dataDir, 'snapshots')),
    snapshotKeep: e.SNAPSHOT_KEEP,
    schedule: e.SCHEDULE,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    dashboardUser: e.DASHBOARD_USER,
    dashboardPassword: e.DASHBOARD_PASSWORD,
    dashboardHosts: Object.freeze(e.DASHBOARD_HOSTS.map((h) => h.toLowerCase())),
    logLevel: e.LOG_LEVEL,
    ci: e.CI !== undefined && e.CI !== '0' && e.CI !== 'false',
  });
}
