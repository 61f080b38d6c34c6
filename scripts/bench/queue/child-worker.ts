// The no-op worker process of part 1's multi-process row (started by queue-rows.ts): a no-op
// BullmqRunner worker on `project` until SIGTERM; prints how many jobs it processed.
//   node --import tsx scripts/bench/queue/child-worker.ts --redis URL --prefix P --concurrency N
import { parseArgs } from 'node:util';
import { noopRunner, WARM_UP_JOBS, warmUp } from './noop';

async function childWorker(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      redis: { type: 'string' },
      prefix: { type: 'string' },
      concurrency: { type: 'string' },
    },
    strict: true,
  });
  await warmUp(values.redis!, WARM_UP_JOBS);
  let processed = 0;
  const runner = noopRunner({
    redisUrl: values.redis!,
    prefix: values.prefix!,
    work: true,
    concurrency: Number(values.concurrency),
    onJob: () => {
      processed++;
    },
  });
  await runner.start();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await runner.close();
  process.stdout.write(`${JSON.stringify({ processed })}\n`);
}

childWorker(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
