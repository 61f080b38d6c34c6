// What the stage tests (test/stages/*.test.ts) run a stage's processor in: a real database
// (PGlite, in memory, migrated), a queue that keeps what is enqueued, and a fake of the index.
//
// FakeIndex is a fake of the network boundary, not of anything the stage decides: `PypiApi` is
// what packages/pypi-client implements over HTTP, and the end-to-end tests (test/e2e/) run the
// stages against the real client and a real HTTP index (packages/pypi-server). Here the index is
// a few projects in memory, so that one stage's processor can be run alone, on exactly the index
// state a case needs (a file gone, a project gone), and what it stored can be read back.
import { loadConfig } from '@pypi-graph/config';
import { CrawlError, silentLogger } from '@pypi-graph/core';
import { type Database, migrate, openDatabase, projectDependencies, saveProject } from '@pypi-graph/db';
import type { ChangelogRow } from '@pypi-graph/model';
import { pep503Name } from '@pypi-graph/pyspec';
import type { JsonFileInfo, ProjectJsonInfo, PypiApi, SimpleProjectInfo } from '../src/api';
import type { Backlog } from '../src/backlog';
import type { JobInfo, PipelineContext, QueueName } from '../src/context';
import { QUEUES } from '../src/queues';

/** One file on the fake index: enough to serve it through both the JSON and the Simple API. */
export interface IndexFile {
  filename: string;
  /** 64 hex digits. */
  sha256: string;
  yanked?: string | false;
  /** PEP 658 metadata available. */
  coreMetadata?: boolean;
}

export interface IndexProject {
  displayName: string;
  serial: number;
  /** Release key → its files; a release may have none. */
  releases: Record<string, IndexFile[]>;
}

function packagetype(filename: string): { packagetype: string; pythonVersion: string } {
  return filename.endsWith('.whl')
    ? { packagetype: 'bdist_wheel', pythonVersion: 'py3' }
    : { packagetype: 'sdist', pythonVersion: 'source' };
}

/** An in-memory index: its projects and its changelog, served the way `PypiApi` answers. */
export class FakeIndex implements PypiApi {
  readonly projects = new Map<string, IndexProject>();
  readonly changelog: ChangelogRow[] = [];

  /** `pageSize`: rows per changelog answer (PyPI's XML-RPC pages too). */
  constructor(private readonly pageSize = 50_000) {}

  put(project: IndexProject): void {
    this.projects.set(pep503Name(project.displayName), project);
  }

  remove(name: string): void {
    this.projects.delete(pep503Name(name));
  }

  async changelogLastSerial(): Promise<number> {
    return this.changelog.reduce((m, r) => Math.max(m, r.serial), 0);
  }

  async changelogSinceSerial(serial: number): Promise<ChangelogRow[]> {
    return this.changelog.filter((r) => r.serial > serial).slice(0, this.pageSize);
  }

  async eachPackageWithSerial(onBatch: (batch: Array<[string, number]>) => Promise<void>): Promise<number> {
    const all = [...this.projects.values()].map((p): [string, number] => [p.displayName, p.serial]);
    // Small batches, so that a listing of a few projects still arrives in several.
    for (let i = 0; i < all.length; i += 2) await onBatch(all.slice(i, i + 2));
    return all.length;
  }

  async changelogSerialAt(time: Date): Promise<number> {
    const before = this.changelog.filter((r) => r.timestamp * 1000 < time.getTime());
    return before.reduce((m, r) => Math.max(m, r.serial), 0);
  }

  private project(name: string): IndexProject {
    const p = this.projects.get(pep503Name(name));
    if (!p) throw new CrawlError('project-not-found', `${name}: 404`);
    return p;
  }

  async getProjectJson(name: string): Promise<ProjectJsonInfo> {
    const p = this.project(name);
    const releases = new Map<string, JsonFileInfo[]>();
    for (const [version, files] of Object.entries(p.releases))
      releases.set(
        version,
        files.map((f) => ({
          filename: f.filename,
          url: `http://files.example/${f.filename}`,
          sha256: f.sha256,
          ...packagetype(f.filename),
          size: 100,
          uploadTime: '2024-01-01T00:00:00Z',
          requiresPython: null,
          yanked: f.yanked !== undefined && f.yanked !== false,
          yankedReason: f.yanked || null,
        })),
      );
    return { name: p.displayName, lastSerial: p.serial, releases };
  }

  async getSimpleProject(name: string): Promise<SimpleProjectInfo> {
    const p = this.project(name);
    return {
      name: pep503Name(p.displayName),
      lastSerial: p.serial,
      versions: Object.keys(p.releases),
      files: Object.values(p.releases)
        .flat()
        .map((f) => ({
          filename: f.filename,
          url: `http://files.example/${f.filename}`,
          sha256: f.sha256,
          yanked: f.yanked ?? false,
          coreMetadata: f.coreMetadata ?? false,
        })),
    };
  }
}

/** A queue that keeps what is enqueued, by the queue definitions' own job ids (a job id once). */
export class KeptQueue {
  readonly jobs = new Map<string, { queue: QueueName; payload: unknown; priority?: number }>();

  readonly enqueue = async (queue: QueueName, payload: unknown, options?: { priority?: number }) => {
    const def = QUEUES[queue];
    if (!def) throw new Error(`no queue ${queue}`);
    const id = def.jobId(def.payload.parse(payload));
    if (this.jobs.has(id)) return false;
    this.jobs.set(id, { queue, payload, priority: options?.priority });
    return true;
  };

  /** The payloads waiting in one queue, in the order they came. */
  payloads(queue: QueueName): unknown[] {
    return [...this.jobs.values()].filter((j) => j.queue === queue).map((j) => j.payload);
  }
}

export interface StageEnv {
  database: Database;
  /** Replaceable: a case may start from an index and a queue of its own, on the same database. */
  index: FakeIndex;
  queue: KeptQueue;
  /** A context over them; `extra` adds a wheel reader, an sdist extractor or a backlog. */
  ctx(
    extra?: Partial<Pick<PipelineContext, 'wheels' | 'sdists' | 'backlog'>> & { backlog?: Backlog },
  ): PipelineContext;
  close(): Promise<void>;
}

/** A migrated in-memory PGlite, an empty fake index and an empty queue. */
export async function stageEnv(index = new FakeIndex()): Promise<StageEnv> {
  const database = await openDatabase({ pglitePath: 'memory://' });
  await migrate(database);
  const config = loadConfig({});
  const env: StageEnv = {
    database,
    index,
    queue: new KeptQueue(),
    ctx: (extra = {}) => ({
      config,
      db: database.db,
      api: env.index,
      logger: silentLogger,
      enqueue: env.queue.enqueue,
      ...extra,
    }),
    close: () => database.close(),
  };
  return env;
}

/** What a runner hands a processor about its job. */
export function jobInfo(id = 'test-job'): JobInfo {
  return { id, signal: new AbortController().signal, log: silentLogger, attempt: 1 };
}

/** A sha256 made of one hex digit repeated: readable in a test. */
export function sha(digit: string): string {
  return digit.repeat(64);
}

/** Stores a project with one file of this type, as a project job would. */
export async function storeOneFile(
  env: StageEnv,
  project: string,
  filename: string,
  digit: string,
  packagetype: 'sdist' | 'bdist_wheel',
): Promise<void> {
  const wheel = packagetype === 'bdist_wheel';
  await saveProject(env.database.db, {
    displayName: project,
    serial: 1,
    versions: ['1.0'],
    files: [
      {
        filename,
        version: '1.0',
        packagetype,
        pythonVersion: wheel ? 'py3' : 'source',
        url: `http://files.example/${filename}`,
        sha256: sha(digit),
        size: 100,
        uploadTime: null,
        requiresPython: null,
        yanked: false,
        yankedReason: null,
        hasCoreMetadata: wheel,
        coreMetadataSha256: null,
      },
    ],
  });
}

/** Every stored extraction of a project's files, with the file's name. */
export async function storedExtractions(env: StageEnv, project: string) {
  return (await projectDependencies(env.database.db, project)).flatMap((f) =>
    f.extractions.map((e) => ({ filename: f.filename, ...e })),
  );
}
