// Run by crash.test.ts as a process of its own: publishes a snapshot of `count` test projects
// into `outDir`. With `pause`, it stops right before `latest` is switched (the fault hook),
// says `paused` on stdout and waits there, so that the test can SIGKILL it at that point.
import { publishSnapshot } from '../src/index';
import { memorySource, projects } from './sources';

const [outDir, count, mode] = process.argv.slice(2);
const result = await publishSnapshot({
  outDir: outDir!,
  source: memorySource(projects(Number(count))),
  beforeLatestSwitch:
    mode === 'pause'
      ? async () => {
          process.stdout.write('paused\n');
          await new Promise(() => setInterval(() => {}, 60_000)); // until killed
        }
      : undefined,
});
process.stdout.write(`published ${result.id}\n`);
