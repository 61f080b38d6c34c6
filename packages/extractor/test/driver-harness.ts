// Runs Python code against nix/extractor/driver.py outside the sandbox, under the host's python3:
// what driver-files.test.ts and driver-untar.test.ts test of the driver's own functions.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const EXTRACTOR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../nix/extractor');

// driver.py reads its environment when imported (never used here); `work` is the body's directory.
const PRELUDE = `
import os, sys
os.environ.update({"out": "/nonexistent", "src": "/nonexistent", "filename": "x.tar.gz",
                   "extractor": "/nonexistent", "pythons": "{}"})
sys.path.insert(0, sys.argv[1])
import driver
work = sys.argv[2]
`;

/**
 * Runs `body` (Python, after driver.py is imported as `driver` and `work` names a new empty
 * directory) and returns the JSON it prints; the directory is removed afterwards.
 */
export async function runDriverHarness<T>(name: string, body: string): Promise<T> {
  const work = await mkdtemp(path.join(tmpdir(), `${name}-`));
  try {
    return JSON.parse(
      execFileSync('python3', ['-c', PRELUDE + body, EXTRACTOR, work], {
        encoding: 'utf8',
        timeout: 120_000,
      }),
    ) as T;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
