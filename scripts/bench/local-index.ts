import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';

// Shared by `pnpm bench sdist-accuracy` and the opt-in test test/e2e/build-deps-real.test.ts.

/**
 * The local package index this machine's pip configuration names (`pip config list`): real PyPI
 * wheels, build backends among them. Opt-in tests and benchmarks copy from it at run time;
 * nothing third-party is committed.
 */
export const LOCAL_SIMPLE = '/opt/pypi/simple';

/** The real build backends and plugins used by the opt-in test and the accuracy bench, with what they need. */
export const REAL_BUILD_TOOLS = [
  'hatchling',
  'hatch-vcs',
  'setuptools-scm',
  'vcs-versioning',
  'packaging',
  'pathspec',
  'pluggy',
  'tomlkit',
  'trove-classifiers',
  'tomli',
  'typing-extensions',
];

/**
 * Copies every wheel the local index has of each project into `dest`. Returns file name → the
 * copied file's source path.
 */
export async function copyLocalWheels(names: readonly string[], dest: string): Promise<Map<string, string>> {
  const copied = new Map<string, string>();
  for (const name of names) {
    const html = await readFile(path.join(LOCAL_SIMPLE, name, 'index.html'), 'utf8');
    for (const m of html.matchAll(/href="([^"#]+\.whl)(?:#sha256=[0-9a-f]+)?"/g)) {
      const file = path.resolve(LOCAL_SIMPLE, name, m[1]!);
      await copyFile(file, path.join(dest, path.basename(file)));
      copied.set(path.basename(file), file);
    }
  }
  return copied;
}
