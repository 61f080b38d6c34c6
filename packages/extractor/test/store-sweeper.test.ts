import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasNix } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreSweeper } from '../src/sandbox/sdist-extractor';

// SANDBOX_GC=on deletes an extraction's store paths in the background (StoreSweeper): the job
// hands them over and is done; what is handed in while a deletion runs goes in the next batch,
// one nix-store call for many; a path still alive (a GC root here) is left, the others go.
// Real Nix store, paths added for this test only.

const NIX = hasNix();
let work: string;

async function addPath(name: string): Promise<string> {
  const file = path.join(work, name);
  await writeFile(file, randomBytes(32));
  return execFileSync('nix-store', ['--add', file], { encoding: 'utf8' }).trim();
}

const valid = (p: string) => existsSync(p);

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'store-sweeper-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!NIX)('StoreSweeper (real Nix store)', () => {
  it('deletes in the background, many extractions per batch, and leaves what is alive', async () => {
    const groups = await Promise.all(
      ['a', 'b', 'c'].map(async (g) => ({
        out: await addPath(`${g}-out`),
        drv: await addPath(`${g}-drv`),
        sdist: await addPath(`${g}-sdist`),
        wheel: await addPath(`${g}-wheel`),
      })),
    );
    // c's output is alive: a GC root holds it
    const root = path.join(work, 'root');
    execFileSync('nix-store', ['--add-root', root, '--indirect', '--realise', groups[2]!.out]);
    const batches: string[][] = [];
    const sweeper = new StoreSweeper((deleted) => batches.push(deleted));
    for (const g of groups) sweeper.add(g.out, g.sdist, g.drv, [g.wheel]);
    // add() returns at once: a's deletion has only just started
    expect(groups.every((g) => valid(g.out))).toBe(true);
    await sweeper.flush();
    // a alone (its deletion started at once), then b and c together
    expect(batches.length).toBe(2);
    expect(batches[0]!.sort()).toEqual(
      [groups[0]!.out, groups[0]!.drv, groups[0]!.sdist, groups[0]!.wheel].sort(),
    );
    const [, b, c] = groups;
    expect(batches[1]!.sort()).toEqual(
      [b!.out, b!.drv, b!.sdist, b!.wheel, c!.drv, c!.sdist, c!.wheel].sort(),
    );
    for (const g of groups) {
      expect([g.drv, g.sdist, g.wheel].map(valid)).toEqual([false, false, false]);
    }
    expect(valid(groups[0]!.out) || valid(groups[1]!.out)).toBe(false);
    expect(valid(c!.out)).toBe(true);
    await rm(root);
    execFileSync('nix-store', ['--delete', c!.out]);
    // nothing waits: flush resolves at once, and the sweeper takes more afterwards
    await sweeper.flush();
    const late = await addPath('late');
    sweeper.add(late, '');
    await sweeper.flush();
    expect(valid(late)).toBe(false);
    expect(batches.length).toBe(3);
  });
});
