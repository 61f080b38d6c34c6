import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The source folders whose code decides a published byte: this package, and the packages it
 * renders with — pyspec (the Python-compatible JSON writer, version order, name keys, the
 * canonical spelling of requirements) and model (the Python keys and fields).
 */
export function renderingSourceDirs(): string[] {
  const require = createRequire(import.meta.url);
  return [
    dirname(fileURLToPath(import.meta.url)),
    dirname(require.resolve('@pypi-graph/pyspec')),
    dirname(require.resolve('@pypi-graph/model')),
  ];
}

/**
 * sha256 of `prefix` and every source file (`.ts`, `.js`, `.mjs`) directly in `dirs`, by folder
 * position and file name (not by absolute path: a checkout moved elsewhere keeps it).
 */
export async function sourceFingerprint(dirs: readonly string[], prefix: string): Promise<string> {
  const hash = createHash('sha256').update(prefix);
  for (const [i, dir] of dirs.entries()) {
    for (const name of (await readdir(dir)).filter((n) => /\.m?[jt]s$/.test(n)).sort()) {
      hash.update(`${i} ${name}\n`).update(await readFile(join(dir, name)));
    }
  }
  return hash.digest('hex');
}
