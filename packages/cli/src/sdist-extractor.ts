import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '@pypi-graph/config';
import { CrawlError, type Logger } from '@pypi-graph/core';
import {
  readSdistStaticMetadata,
  runSandbox,
  toSdistDepsFields,
  withBuildRequires,
} from '@pypi-graph/extractor';
import type { SdistDeps, SdistExtractor } from '@pypi-graph/pipeline';
import type { PypiClient } from '@pypi-graph/pypi-client';

async function nixAvailable(): Promise<boolean> {
  try {
    await exec('nix-build', ['--version'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const exec = promisify(execFile);

/**
 * Deletes one extraction's store paths: its output, the derivation that built it and the sdist
 * source, in that order (each must be dead: `nix-store --delete` never removes a path that a GC
 * root or another live path still needs, so a concurrent extraction of the same sdist keeps
 * what it uses). The interpreters and the shipped setuptools are not touched.
 */
export async function deleteStorePaths(outPath: string, sdistStorePath: string): Promise<string[]> {
  const deleted: string[] = [];
  let drv: string | undefined;
  try {
    drv = (await exec('nix-store', ['--query', '--deriver', outPath], { timeout: 60_000 })).stdout.trim();
  } catch {
    drv = undefined;
  }
  for (const p of [outPath, drv, sdistStorePath]) {
    if (!p?.startsWith('/nix/store/')) continue;
    try {
      await exec('nix-store', ['--delete', p], { timeout: 60_000 });
      deleted.push(p);
    } catch {
      // alive (another extraction uses it) or already gone: left to a later `nix-store --gc`
    }
  }
  return deleted;
}

/**
 * docs/architecture.md §3: download (sha256-verified) → static metadata when it is trustworthy → else setup.py
 * in the Nix sandbox, once per Python version. `SDIST_EXTRACTION` chooses how far to go. Every
 * result's `setup_requires` holds what building needs: pyproject.toml's `[build-system] requires`,
 * then (setup.py runs) the `setup_requires` setup.py declares.
 */
export async function createSdistExtractor(
  config: Config,
  client: PypiClient,
  tmpDir: string,
  logger: Logger,
): Promise<SdistExtractor | undefined> {
  if (config.sdistExtraction === 'off') return undefined;
  const sandbox =
    config.sdistExtraction === 'sandbox' || (config.sdistExtraction === 'auto' && (await nixAvailable()));
  if (!sandbox) logger.info('no Nix sandbox: sdists get static metadata only (SDIST_EXTRACTION)');
  return {
    async extract(file, signal) {
      const dir = await mkdtemp(path.join(tmpDir, 'sdist-'));
      try {
        const got = await client.download(file.url, {
          sha256: file.sha256,
          size: file.size ?? undefined,
          dir,
          signal,
        });
        const found = await readSdistStaticMetadata(got.path, { signal });
        if (found.kind === 'static') {
          const fields = toSdistDepsFields(found);
          const deps: SdistDeps = {
            install_requires: fields.install_requires ?? [],
            // [build-system] requires: what building needs (a flit or hatchling sdist's only build input)
            setup_requires: fields.setup_requires ?? [],
            tests_require: [],
            extras_require: Object.entries(found.extrasRequire),
            python_requires: found.pythonRequires,
          };
          return { kind: 'static', method: found.method, deps, bytesTransferred: got.bytes };
        }
        if (!sandbox) {
          throw new CrawlError(
            'sandbox-unavailable',
            `${file.filename} needs its setup.py run, and there is no sandbox here`,
            {
              hint: 'install Nix (nix-build) and set SDIST_EXTRACTION=sandbox or auto, then pnpm recrawl',
            },
          );
        }
        const run = await runSandbox({
          sdistPath: got.path,
          sha256: file.sha256,
          filename: file.filename,
          interpreters: config.sandboxInterpreters,
          signal,
        });
        const results: Record<string, { ok: SdistDeps } | { error: { code: string; log: string } }> = {};
        for (const [key, r] of Object.entries(run.results)) {
          if (!r) continue;
          results[key] =
            'ok' in r
              ? {
                  ok: {
                    install_requires: r.ok.install_requires,
                    setup_requires: withBuildRequires(found.buildRequires, r.ok.setup_requires),
                    tests_require: r.ok.tests_require,
                    extras_require: Object.entries(r.ok.extras_require),
                    python_requires: r.ok.python_requires,
                  },
                }
              : { error: { code: r.error.code, log: r.error.log } };
        }
        return {
          kind: 'setup.py',
          results,
          bytesTransferred: got.bytes,
          release: config.sandboxGc
            ? async () => {
                const deleted = await deleteStorePaths(run.outPath, run.sdistStorePath);
                logger.debug({ file: file.filename, deleted }, 'sandbox output removed from the Nix store');
              }
            : undefined,
        };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
