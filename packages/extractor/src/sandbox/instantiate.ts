import path from 'node:path';
import { configError, jobError, sandboxError } from '@pypi-graph/core';
import type { InterpreterSet } from './build-options';
import { runNix, tailLines } from './nix';

// Evaluation of nix/extractor.nix, paid once per batch: every sdist still has a derivation of
// its own (the same .drv `nix-build nix/extractor.nix --argstr sdist … ` would give), but the
// sdists that wait for their evaluation at the same moment are instantiated by one
// nix-instantiate, which evaluates extractor.nix, interpreters-host.nix and the extractor's
// sources once for all of them. A batch starts as soon as none is running: a lone sdist waits
// for nothing, and under SDIST_CONCURRENCY > 1 the sdists that arrive while one batch evaluates
// form the next.

/** What one sdist's derivation is made of (the arguments of nix/extractor.nix). */
export interface DerivationRequest {
  sdistStorePath: string;
  filename: string;
  pythons: readonly string[];
  /** Integer arguments: the sandbox limits. */
  limits: Record<string, number>;
  /** Per Python key, store paths of build-dependency wheels (fixed-output, added by the worker). */
  buildWheels?: Record<string, string[]>;
  /** A PEP 517 backend to call instead of running setup.py, and its backend-path. */
  backend?: { name: string; path: string[] };
}

/** A store path as `nix-store --add-fixed` prints it: nothing in it can end a Nix string. */
const STORE_PATH_RE = /^\/nix\/store\/[0-9a-z]{32}-[A-Za-z0-9+._?=-]+$/;

export interface InstantiateContext {
  nixDir: string;
  interpreters: string;
  binPath: string;
  set: InterpreterSet;
  signal?: AbortSignal;
}

export interface Instantiated {
  drvPath: string;
  /** Wall time of the nix-instantiate that evaluated it. */
  evalMs: number;
  /** How many derivations that nix-instantiate evaluated. */
  batchSize: number;
}

/** At most this many sdists per nix-instantiate. */
export const MAX_BATCH = 32;

interface Pending {
  request: DerivationRequest;
  signal?: AbortSignal;
  resolve: (value: Instantiated) => void;
  reject: (err: unknown) => void;
}

interface Batcher {
  queue: Pending[];
  running: boolean;
}

const batchers = new Map<string, Batcher>();

const KEY_RE = /^[0-9]+$/;
const LIMIT_RE = /^[A-Za-z]+$/;

/**
 * The arguments of one nix-instantiate for `requests`: an expression that is a function of
 * `--argstr` values (no user text is ever spliced into Nix source) returning the list of their
 * derivations, in order.
 */
export function instantiateArgs(ctx: InstantiateContext, requests: DerivationRequest[]): string[] {
  const file = path.join(ctx.nixDir, 'extractor.nix');
  const formals = ['extractorFile', 'interpreters'];
  const argv = ['--argstr', 'extractorFile', file, '--argstr', 'interpreters', ctx.interpreters];
  // Host mode with an interpreter set of SANDBOX_PYTHONS or discovery: its JSON, as nix-build
  // gets it (sandboxBuildArgs), so that the .drv is the one nix-build would give.
  const host = ctx.interpreters === 'host' && ctx.set.hostPythons !== undefined;
  if (host) {
    formals.push('hostPythons');
    argv.push('--argstr', 'hostPythons', ctx.set.hostPythons!);
  }
  const calls = requests.map((r, i) => {
    if (!r.pythons.every((k) => KEY_RE.test(k))) throw configError('config-invalid', 'bad Python key');
    const attrs = [
      host ? 'inherit interpreters hostPythons;' : 'inherit interpreters;',
      `sdist = s${i};`,
      `filename = f${i};`,
      `pythons = [ ${r.pythons.map((k) => `"${k}"`).join(' ')} ];`,
    ];
    for (const [name, value] of Object.entries(r.limits)) {
      if (!LIMIT_RE.test(name) || !Number.isSafeInteger(value))
        throw configError('config-invalid', `sandbox limit ${name}=${value}`);
      attrs.push(`${name} = ${value};`);
    }
    if (ctx.set.shippedDrvs) attrs.push(`shippedDrvs = ${ctx.set.shippedDrvs};`);
    formals.push(`s${i}`, `f${i}`);
    argv.push('--argstr', `s${i}`, r.sdistStorePath, '--argstr', `f${i}`, r.filename);
    const wheels = Object.entries(r.buildWheels ?? {}).filter(([, paths]) => paths.length > 0);
    if (wheels.length > 0) {
      const entries = wheels.map(([key, paths]) => {
        if (!KEY_RE.test(key)) throw configError('config-invalid', 'bad Python key');
        for (const p of paths)
          if (!STORE_PATH_RE.test(p))
            throw sandboxError('sandbox-failed', `not a store path: ${JSON.stringify(p)}`);
        return `"${key}" = [ ${paths.map((p) => `"${p}"`).join(' ')} ];`;
      });
      attrs.push(`buildWheels = { ${entries.join(' ')} };`);
    }
    if (r.backend) {
      // the backend's name and path come from the sdist: values of --argstr, never Nix source
      formals.push(`b${i}`, `bp${i}`);
      argv.push('--argstr', `b${i}`, r.backend.name, '--argstr', `bp${i}`, JSON.stringify(r.backend.path));
      attrs.push(`backend = b${i};`, `backendPath = bp${i};`);
    }
    return `(import (/. + extractorFile) { ${attrs.join(' ')} })`;
  });
  return ['-E', `{ ${formals.join(', ')} }: [ ${calls.join(' ')} ]`, ...argv];
}

async function instantiateNow(ctx: InstantiateContext, batch: Pending[]): Promise<string[]> {
  const res = await runNix(
    'nix-instantiate',
    instantiateArgs(
      ctx,
      batch.map((p) => p.request),
    ),
    {
      timeoutMs: 300_000,
      signal: ctx.signal,
      binPath: ctx.binPath,
    },
  );
  const drvs = res.stdout.trim().split('\n');
  if (
    res.status !== 0 ||
    drvs.length !== batch.length ||
    !drvs.every((d) => /^\/nix\/store\/[^\s"$\\]+\.drv$/.test(d))
  ) {
    throw sandboxError(
      'sandbox-failed',
      `nix-instantiate of ${batch.length} sdist derivation(s) failed: ${tailLines(res.stderr, 5)}`,
      { details: { stderr: tailLines(res.stderr) } },
    );
  }
  return drvs;
}

async function drain(key: string, ctx: InstantiateContext): Promise<void> {
  const batcher = batchers.get(key)!;
  if (batcher.running) return;
  batcher.running = true;
  try {
    while (batcher.queue.length > 0) {
      const batch = batcher.queue.splice(0, MAX_BATCH).filter((p) => {
        if (!p.signal?.aborted) return true;
        p.reject(jobError('aborted', `evaluation of ${p.request.filename} aborted`));
        return false;
      });
      if (batch.length === 0) continue;
      const started = performance.now();
      try {
        // one signal for the batch would let one sdist's abort fail the others: none is passed
        const drvs = await instantiateNow({ ...ctx, signal: undefined }, batch);
        const evalMs = performance.now() - started;
        for (const [i, p] of batch.entries())
          p.resolve({ drvPath: drvs[i]!, evalMs, batchSize: batch.length });
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
        // One bad request must not fail the others: each is evaluated alone.
        for (const p of batch) {
          const t0 = performance.now();
          try {
            const [drv] = await instantiateNow({ ...ctx, signal: p.signal }, [p]);
            p.resolve({ drvPath: drv!, evalMs: performance.now() - t0, batchSize: 1 });
          } catch (e) {
            p.reject(e);
          }
        }
      }
    }
  } finally {
    batcher.running = false;
  }
}

/** The .drv of one sdist's extraction, evaluated together with the sdists waiting at the same time. */
export function instantiateExtraction(
  ctx: InstantiateContext,
  request: DerivationRequest,
): Promise<Instantiated> {
  const key = [
    ctx.nixDir,
    ctx.interpreters,
    ctx.binPath,
    ctx.set.shippedDrvs ?? '',
    ctx.set.hostPythons ?? '',
  ].join('\0');
  let batcher = batchers.get(key);
  if (!batcher) {
    batcher = { queue: [], running: false };
    batchers.set(key, batcher);
  }
  const promise = new Promise<Instantiated>((resolve, reject) => {
    batcher.queue.push({ request, signal: ctx.signal, resolve, reject });
  });
  void drain(key, ctx);
  return promise;
}
