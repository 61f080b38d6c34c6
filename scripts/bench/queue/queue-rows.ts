// Part 1: the queue alone — jobs/s through BullMQ on the local Redis with a no-op processor,
// adding and processing, against raw BullMQ (Queue.addBulk, a bare Worker) as the baseline.
import { spawn } from 'node:child_process';
import { PRIORITY_BACKFILL } from '@pypi-graph/pipeline';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { childEnv, cpuSecondsOf, fixed, int, progress, REPO_ROOT, tsxArgs } from '../common';
import { redisPid, timed } from './cpu';
import {
  addBulk,
  deletePrefix,
  freshPrefix,
  jobOf,
  noopRunner,
  pending,
  QUEUE,
  WARM_UP_JOBS,
  warmUp,
} from './noop';

/** The no-op worker process of the multi-process row. */
const CHILD = 'scripts/bench/queue/child-worker.ts';

export interface QueueRow {
  kind: 'add' | 'process';
  label: string;
  baseline?: boolean;
  jobs: number;
  seconds: number;
  /** CPU seconds of the node processes doing the work (this one, or the worker processes). */
  nodeCpuS: number;
  redisCpuS: number;
  machineBusyS: number;
  load1: number;
  run?: number;
}

/** A no-op worker process (child-worker.ts): a BullmqRunner on `project`. */
interface ChildWorker {
  pid: number;
  processed(): Promise<number>;
}

async function startChildWorker(redisUrl: string, prefix: string, concurrency: number): Promise<ChildWorker> {
  const child = spawn(
    process.execPath,
    tsxArgs(CHILD, '--redis', redisUrl, '--prefix', prefix, '--concurrency', String(concurrency)),
    { cwd: REPO_ROOT, env: childEnv({}), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('ready\n')) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`the no-op worker process exited with ${code}\n${err}`));
    });
  });
  return {
    pid: child.pid!,
    async processed() {
      child.kill('SIGTERM');
      const code = await exited;
      const m = /"processed":(\d+)/.exec(out);
      if (code !== 0 || !m) throw new Error(`the no-op worker process failed (exit ${code})\n${err}`);
      return Number(m[1]);
    },
  };
}

export async function queueRows(redisUrl: string, jobs: number): Promise<QueueRow[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const pid = await redisPid(redis);
  const redisCpu = () => (pid === undefined ? Number.NaN : cpuSecondsOf(pid));
  const rows: QueueRow[] = [];
  const note = (row: QueueRow) => {
    rows.push(row);
    progress(
      `queue: ${row.label}: ${int(row.jobs)} jobs in ${fixed(row.seconds, 2)} s = ${int(row.jobs / row.seconds)} jobs/s ` +
        `(node CPU ${fixed(row.nodeCpuS)} s, Redis CPU ${fixed(row.redisCpuS)} s)`,
    );
  };
  const withQueue = async <T>(what: string, fn: (queue: Queue, prefix: string) => Promise<T>): Promise<T> => {
    const prefix = freshPrefix(what);
    const connection = redis.duplicate({ maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection, prefix });
    await queue.waitUntilReady();
    try {
      return await fn(queue, prefix);
    } finally {
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
      await deletePrefix(redis, prefix);
    }
  };
  const expectCount = async (queue: Queue, label: string) => {
    const n = await pending(queue);
    if (n !== jobs) throw new Error(`${label}: ${n} jobs in the queue, not ${jobs}`);
  };

  try {
    await warmUp(redisUrl, WARM_UP_JOBS);
    // Adding.
    await withQueue('addbulk', async (queue) => {
      const label = 'BullMQ `Queue.addBulk`, 1,000 jobs per call (baseline)';
      progress(`queue: ${label} …`);
      const s = await timed(redisCpu, () => addBulk(queue, jobs));
      await expectCount(queue, label);
      note({ kind: 'add', label, baseline: true, jobs, ...s });
    });
    await withQueue('add', async (queue) => {
      const label = 'BullMQ `Queue.add`, one job at a time';
      progress(`queue: ${label} …`);
      const s = await timed(redisCpu, async () => {
        for (let i = 0; i < jobs; i++) {
          const j = jobOf(i);
          await queue.add(j.name, j.data, j.opts);
        }
      });
      await expectCount(queue, label);
      note({ kind: 'add', label, jobs, ...s });
    });
    await withQueue('enqueue', async (queue, prefix) => {
      const label =
        '`BullmqRunner.enqueue`, one job at a time (payload check, `getJob`, `add`: as the crawl)';
      progress(`queue: ${label} …`);
      const runner = noopRunner({ redisUrl, prefix, work: false, concurrency: 1 });
      try {
        const s = await timed(redisCpu, async () => {
          for (let i = 0; i < jobs; i++) {
            const j = jobOf(i);
            if (!(await runner.enqueue(QUEUE, j.data, { priority: PRIORITY_BACKFILL }))) {
              throw new Error(`enqueue refused job ${i}`);
            }
          }
        });
        await expectCount(queue, label);
        note({ kind: 'add', label, jobs, ...s });
      } finally {
        await runner.close();
      }
    });

    // Processing: the queue is filled and paused, the workers start and are ready, then it resumes.
    const processRow = async (
      what: string,
      label: string,
      startWorkers: (prefix: string) => Promise<{ cpu?: () => number; stop(): Promise<number> }>,
      baseline = false,
    ) => {
      await withQueue(what, async (queue, prefix) => {
        progress(`queue: ${label} …`);
        await queue.pause();
        await addBulk(queue, jobs);
        await expectCount(queue, label);
        const workers = await startWorkers(prefix);
        let processed = 0;
        const s = await timed(
          redisCpu,
          async () => {
            await queue.resume();
            while ((await pending(queue)) > 0) await new Promise((r) => setTimeout(r, 20));
          },
          workers.cpu,
        );
        processed = await workers.stop();
        const failed = (await queue.getJobCounts('failed')).failed ?? 0;
        if (processed !== jobs || failed !== 0) {
          throw new Error(`${label}: ${processed} jobs processed and ${failed} failed, of ${jobs}`);
        }
        note({ kind: 'process', label, baseline, jobs, ...s });
      });
    };
    for (const concurrency of [1, 16]) {
      await processRow(
        `worker${concurrency}`,
        `BullMQ \`Worker\`, no-op, concurrency ${concurrency}, 1 process (baseline)`,
        async (prefix) => {
          let processed = 0;
          const connection = redis.duplicate({ maxRetriesPerRequest: null });
          const worker = new Worker(
            QUEUE,
            async () => {
              processed++;
            },
            { connection, prefix, concurrency },
          );
          await worker.waitUntilReady();
          return {
            async stop() {
              await worker.close();
              await connection.quit().catch(() => connection.disconnect());
              return processed;
            },
          };
        },
        true,
      );
    }
    for (const concurrency of [1, 16]) {
      await processRow(
        `runner${concurrency}`,
        `\`BullmqRunner\` worker, no-op, concurrency ${concurrency}, 1 process`,
        async (prefix) => {
          let processed = 0;
          const runner = noopRunner({
            redisUrl,
            prefix,
            work: true,
            concurrency,
            onJob: () => {
              processed++;
            },
          });
          await runner.start();
          return {
            async stop() {
              await runner.close();
              return processed;
            },
          };
        },
      );
    }
    await processRow(
      'procs2',
      '`BullmqRunner` worker, no-op, concurrency 16, 2 processes',
      async (prefix) => {
        const children = await Promise.all([1, 2].map(() => startChildWorker(redisUrl, prefix, 16)));
        return {
          cpu: () => children.reduce((a, c) => a + cpuSecondsOf(c.pid), 0),
          async stop() {
            let n = 0;
            for (const c of children) n += await c.processed();
            return n;
          },
        };
      },
    );
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
  return rows;
}
