// A publishing process killed (SIGKILL, a real process) between `latest.json` and `latest`:
// each pointer still names a complete snapshot, and the next publish finishes the switch.
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTs, watch } from '@pypi-graph/test-support';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { finishLatestSwitch, publishSnapshot } from '../src/index';
import { tempDir } from './helpers';
import { memorySource, projects } from './sources';

const CHILD = join(import.meta.dirname, 'publish-child.ts');

let tmp: { path: string; cleanup: () => Promise<void> };
let out: string;
beforeEach(async () => {
  tmp = await tempDir();
  out = join(tmp.path, 'out');
});
afterEach(async () => tmp.cleanup());

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** That `id` is a whole published snapshot: tree, manifest, tarball and its .sha256. */
async function complete(id: string, tarballSha256?: string): Promise<void> {
  expect((await stat(join(out, id, 'manifest.json'))).isFile()).toBe(true);
  const actual = await sha256(join(out, `${id}.tar.gz`));
  expect(await readFile(join(out, `${id}.tar.gz.sha256`), 'utf8')).toBe(`${actual}  ${id}.tar.gz\n`);
  if (tarballSha256 !== undefined) expect(actual).toBe(tarballSha256);
}

it('killed between latest.json and latest: both name complete snapshots; the next run finishes the switch', async () => {
  const first = watch(startTs(CHILD, [out, '5']));
  expect(await first.exited, first.out.stderr).toBe(0);
  const previous = /published (\S+)/.exec(first.out.stdout)![1]!;

  const child = startTs(CHILD, [out, '7', 'pause']);
  const second = watch(child);
  await second.waitFor('stdout', /^paused$/m);
  child.kill('SIGKILL');
  await second.exited;
  expect(child.signalCode).toBe('SIGKILL');

  // latest.json already names the new snapshot, and everything it names is there;
  // `latest` still names the previous one, also complete.
  const latestJson = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8')) as Record<string, string>;
  const next = latestJson.id!;
  expect(next).not.toBe(previous);
  expect(latestJson.dir).toBe(next);
  await complete(next, latestJson.tarball_sha256);
  expect(await readlink(join(out, 'latest'))).toBe(previous);
  await complete(previous);
  // The killed run's temporary directory is left behind, for the next run to remove.
  expect((await readdir(out)).filter((n) => n.startsWith('.tmp-'))).toHaveLength(1);

  // The next publish (of other data, in this process) first finishes the interrupted switch.
  let atSwitch: string | undefined;
  const third = await publishSnapshot({
    outDir: out,
    source: memorySource(projects(9)),
    beforeLatestSwitch: async () => {
      atSwitch = await readlink(join(out, 'latest'));
    },
  });
  expect(atSwitch).toBe(next);
  expect(await readlink(join(out, 'latest'))).toBe(third.id);
  expect((await readdir(out)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  expect(await finishLatestSwitch(out)).toBeUndefined(); // nothing left to finish
});
