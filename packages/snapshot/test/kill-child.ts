// Run by incremental.test.ts as its own process, to be killed with SIGKILL mid-publish:
//   node --import tsx kill-child.ts OUT_DIR PROJECTS
// Prints "bucket XX" as each bucket is read, slowly enough to be killed in the middle.
import { publishSnapshot } from '../src/index';
import { killSource, projectAt } from './kill-source';

const [outDir, n] = process.argv.slice(2);
const projects = Array.from({ length: Number(n) }, (_, i) => projectAt(i, 1));
await publishSnapshot({
  outDir: outDir!,
  source: killSource(
    () => projects,
    () => ({ serial: 7, unixTimestamp: 1_700_000_007 }),
    'v1',
    undefined,
    async (bucket) => {
      process.stdout.write(`bucket ${bucket}\n`);
      await new Promise((r) => setTimeout(r, 15));
    },
  ),
});
process.stdout.write('published\n');
