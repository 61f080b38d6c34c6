import type { Logger } from '@pypi-graph/core';
import {
  type Db,
  filesWithoutResultByIds,
  listFilesWithoutResult,
  listPendingProjects,
} from '@pypi-graph/db';
import { type BacklogStore, FED_QUEUES, type FedQueue } from './backlog';
import { type Enqueue, PRIORITY_BACKFILL, type QueueName } from './context';
import { SDIST_EXTRACTOR_VERSION } from './stages/sdist-extract';
import { WHEEL_EXTRACTOR_VERSION } from './stages/wheel-metadata';

/** Rows read from the database per page (keyset: after the last key, never from the start). */
const PAGE = 1000;

export interface FeederOptions {
  /** QUEUE_WINDOW: most jobs waiting per queue; 0 = no limit (a pass feeds all it finds at once). */
  window: number;
  /** The queues this process's runner defines (a feeder feeds only those). */
  queues: readonly QueueName[];
  logger: Logger;
}

/** Jobs waiting (not yet taken) in a queue, across every process: what the window bounds. */
export type WaitingCount = (queue: FedQueue) => Promise<number>;

/**
 * Turns deferred work into jobs while each queue has room: pending projects in name order,
 * wheels and sdists without a result in id order, a page at a time after the pass's cursor.
 * A file is offered once per pass; a pass starts only for deferrals no earlier pass covered,
 * so a file whose job keeps ending without a result (a fault of the machine, no sandbox) is not
 * fed again and again: the crawl ends, and `crawl --resume` takes it on later.
 */
export class Feeder {
  /** Jobs this feeder enqueued, per queue. */
  readonly fed: Record<FedQueue, number> = { project: 0, 'wheel-metadata': 0, 'sdist-extract': 0 };
  private running: Promise<boolean> | undefined;

  constructor(
    private readonly db: Db,
    private readonly store: BacklogStore,
    private readonly enqueue: Enqueue,
    private readonly options: FeederOptions,
  ) {}

  /**
   * Feeds every queue that has deferred work and room, once. True while work waits in the
   * database for some queue (a pass runs, or deferrals wait for one): the crawl is not done.
   * Calls made while one runs share it.
   */
  tick(waiting: WaitingCount): Promise<boolean> {
    this.running ??= this.feedAll(waiting).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves once no tick of this feeder runs. */
  async settled(): Promise<void> {
    await this.running?.catch(() => false);
  }

  private async feedAll(waiting: WaitingCount): Promise<boolean> {
    let busy = false;
    for (const queue of FED_QUEUES) {
      if (!this.options.queues.includes(queue)) continue;
      if (!(await this.store.pending(queue))) continue;
      busy = true;
      // Another feeder holding the lock feeds this queue now; this one tries again next tick.
      await this.store.withLock(queue, () => this.feed(queue, waiting));
    }
    return busy;
  }

  private async feed(queue: FedQueue, waiting: WaitingCount): Promise<void> {
    const window = this.options.window;
    // Counted under the lock: no other feeder adds to this queue meanwhile.
    let room = window > 0 ? window - (await waiting(queue)) : Number.POSITIVE_INFINITY;
    // Topped up once half the window is free, not for every job that finishes.
    if (window > 0 && room < Math.ceil(window / 2)) return;
    if (queue !== 'project') {
      // Files that committed behind a page already read: fed first, by id.
      const [packagetype, version] = fileStage(queue);
      while (room > 0) {
        const ids = await this.store.peekIds(queue, Math.min(room, PAGE));
        if (ids.length === 0) break;
        for (const f of await filesWithoutResultByIds(this.db, packagetype, version, ids)) {
          if (await this.offer(queue, { sha256: f.sha256, filename: f.filename }, PRIORITY_BACKFILL)) room--;
        }
        // Only once enqueued: a feeder that fails (the database restarting) leaves them listed.
        await this.store.dropIds(queue, ids.length);
      }
    }
    const pass = await this.store.startPass(queue);
    if (!pass) return;
    let cursor = pass.cursor;
    while (room > 0) {
      const limit = Math.min(room, PAGE);
      await this.store.beginRead(queue);
      const page = await this.page(queue, cursor, limit, pass.priority);
      cursor = page.last ?? cursor;
      await this.store.advance(queue, cursor);
      for (const job of page.jobs) {
        if (await this.offer(queue, job.payload, job.priority)) room--;
      }
      if (page.jobs.length < limit) {
        await this.store.finishPass(queue, pass);
        this.options.logger.debug({ queue, fed: this.fed[queue] }, 'backlog pass done');
        return;
      }
    }
  }

  private async offer(queue: FedQueue, payload: unknown, priority: number): Promise<boolean> {
    const added = await this.enqueue(queue, payload, { priority });
    if (added) this.fed[queue]++;
    return added;
  }

  private async page(
    queue: FedQueue,
    cursor: string,
    limit: number,
    priority: number | undefined,
  ): Promise<{ jobs: Array<{ payload: unknown; priority: number }>; last?: string }> {
    if (queue === 'project') {
      const rows = await listPendingProjects(this.db, cursor, limit);
      return {
        jobs: rows.map((p) => ({
          payload: { name: p.name, serial: p.serial, priority: p.priority },
          priority: p.priority,
        })),
        last: rows.at(-1)?.key,
      };
    }
    const [packagetype, version] = fileStage(queue);
    const rows = await listFilesWithoutResult(this.db, packagetype, version, Number(cursor), limit);
    return {
      jobs: rows.map((f) => ({
        payload: { sha256: f.sha256, filename: f.filename },
        priority: priority ?? PRIORITY_BACKFILL,
      })),
      last: rows.length > 0 ? String(rows.at(-1)!.id) : undefined,
    };
  }
}

/** The package type and extractor version a file queue's backlog is read for. */
function fileStage(queue: 'wheel-metadata' | 'sdist-extract'): [string, string] {
  return queue === 'wheel-metadata'
    ? ['bdist_wheel', WHEEL_EXTRACTOR_VERSION]
    : ['sdist', SDIST_EXTRACTOR_VERSION];
}
