import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasNix } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NIX_DIR, interpreterSet } from '../src/sandbox/build-options';
import { instantiateArgs, instantiateExtraction } from '../src/sandbox/instantiate';
import { DEFAULT_SANDBOX_LIMITS } from '../src/sandbox/run-sandbox';

// Evaluation once per batch (instantiate.ts) against the real Nix: the sdists that wait at the
// same moment share one nix-instantiate, and each still gets the derivation it would get alone.

const NIX = hasNix();
let work: string;
const storePaths: string[] = [];

beforeAll(async () => {
  if (!NIX) return;
  work = await mkdtemp(path.join(tmpdir(), 'instantiate-'));
  for (let i = 0; i < 4; i++) {
    const file = path.join(work, `batch${i}-1.0.tar.gz`);
    await writeFile(file, randomBytes(64));
    storePaths.push(execFileSync('nix-store', ['--add-fixed', 'sha256', file], { encoding: 'utf8' }).trim());
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  for (const p of storePaths) {
    try {
      execFileSync('nix-store', ['--delete', p], { stdio: 'ignore' });
    } catch {
      // alive: left to the garbage collector
    }
  }
});

describe.skipIf(!NIX)('one nix-instantiate per batch of sdists', () => {
  const request = (i: number, filename = `batch${i}-1.0.tar.gz`) => ({
    sdistStorePath: storePaths[i]!,
    filename,
    pythons: ['27', '313'],
    limits: { ...DEFAULT_SANDBOX_LIMITS },
  });

  it('gives each sdist of a batch the derivation it gets alone', async () => {
    const set = await interpreterSet(DEFAULT_NIX_DIR, 'host');
    const ctx = { nixDir: DEFAULT_NIX_DIR, interpreters: 'host', binPath: process.env.PATH!, set };
    // alone, one after another
    const alone: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await instantiateExtraction(ctx, request(i));
      expect(r.batchSize).toBe(1);
      alone.push(r.drvPath);
    }
    expect(new Set(alone).size).toBe(4);
    // at once: the first starts alone, the three that wait meanwhile share the next evaluation
    const together = await Promise.all([0, 1, 2, 3].map((i) => instantiateExtraction(ctx, request(i))));
    expect(together.map((r) => r.drvPath)).toEqual(alone);
    expect(together.map((r) => r.batchSize)).toEqual([1, 3, 3, 3]);
    // and it is the derivation nix-build's command line evaluates (nix/extractor.nix's header)
    const viaCli = execFileSync(
      'nix-instantiate',
      [
        path.join(DEFAULT_NIX_DIR, 'extractor.nix'),
        '--argstr',
        'interpreters',
        'host',
        '--argstr',
        'sdist',
        storePaths[2]!,
        '--argstr',
        'filename',
        'batch2-1.0.tar.gz',
        '--arg',
        'pythons',
        '[ "27" "313" ]',
        ...Object.entries(DEFAULT_SANDBOX_LIMITS).flatMap(([k, v]) => ['--arg', k, String(v)]),
        ...(set.shippedDrvs ? ['--arg', 'shippedDrvs', set.shippedDrvs] : []),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    expect(viaCli).toBe(alone[2]);
  });

  it('fails only the sdist that cannot be evaluated, not the others of its batch', async () => {
    const set = await interpreterSet(DEFAULT_NIX_DIR, 'host');
    const ctx = { nixDir: DEFAULT_NIX_DIR, interpreters: 'host', binPath: process.env.PATH!, set };
    const missing = {
      ...request(1),
      sdistStorePath: '/nix/store/00000000000000000000000000000000-gone-1.0.tar.gz',
    };
    const outcomes = await Promise.allSettled([
      instantiateExtraction(ctx, request(0)),
      instantiateExtraction(ctx, missing),
      instantiateExtraction(ctx, request(2)),
      instantiateExtraction(ctx, request(3)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/nix-instantiate/);
  });

  it('passes file names as --argstr values, never as Nix source', () => {
    const set = { sandboxPaths: [] };
    // A Nix antiquotation in a file name (the `$` kept apart: it is Nix's, not JavaScript's).
    const hostile = `x"; builtins.abort "${'$'}{"x"}`;
    const args = instantiateArgs({ nixDir: '/n', interpreters: 'host', binPath: '', set }, [
      request(0, hostile),
    ]);
    const expr = args[1]!;
    expect(expr).not.toContain('builtins.abort');
    expect(args).toContain(hostile);
  });
});
