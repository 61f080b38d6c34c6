import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PythonKey } from '@pypi-graph/model';
import { hasNix } from '@pypi-graph/test-support';
import { describe, expect, it } from 'vitest';
import { readSdistStaticMetadata, runSandbox, type SandboxResult } from '../src';

// Issue 11 §3: an sdist that setuptools builds without a setup.py (`[build-system]` says
// setuptools, the metadata is in setup.cfg) goes to the real Nix sandbox, where extract.py runs
// what setuptools' build backend runs then, `from setuptools import setup; setup()`. The fixtures
// are test/fixtures/sdists (scripts/make-sdist-fixtures.py).

const FIXTURES = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../test/fixtures/sdists');

const PYTHONS: PythonKey[] = ['27', '36', '39', '310', '313'];

async function sandbox(filename: string) {
  const file = path.join(FIXTURES, filename);
  const found = await readSdistStaticMetadata(file);
  expect(found).toMatchObject({ kind: 'needs-setup-py', hasSetupPy: false });
  const sha256 = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  return (await runSandbox({ sdistPath: file, sha256, filename, pythons: PYTHONS })).results;
}

const ok = (r: SandboxResult | undefined) => {
  if (!r || !('ok' in r)) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.ok;
};

describe.skipIf(!hasNix())('setuptools without setup.py, in the sandbox', () => {
  it('reads setup.cfg under every Python, as setuptools does', async () => {
    const results = await sandbox('setuptools-cfg-1.0.tar.gz');
    for (const key of PYTHONS) {
      expect(ok(results[key]), key).toEqual({
        install_requires: ['requests[security,socks]<3,>=2.0', 'mylib@ https://example.org/mylib-1.0.tar.gz'],
        setup_requires: [],
        tests_require: [],
        extras_require: { ':python_version < "3.4"': ['enum34'], test: ['pytest>=4'] },
        python_requires: '>=2.7',
      });
    }
  });

  it('refuses to answer "no dependencies" from a setuptools too old to read [project]', async () => {
    // pep621-dynamic-nosetup: [project] with dynamic dependencies and nothing that gives them.
    // setuptools >= 61 (3.10 and later here) reads [project] and finds none; older ones would
    // ignore the table and answer the same for the wrong reason.
    const results = await sandbox('pep621-dynamic-nosetup-1.0.tar.gz');
    for (const key of ['27', '36', '39'] as const) {
      expect(results[key], key).toMatchObject({
        error: { code: 'missing-build-dependency', log: expect.stringMatching(/setuptools>=61/) },
      });
    }
    for (const key of ['310', '313'] as const) {
      expect(ok(results[key]), key).toMatchObject({ install_requires: [], python_requires: '>=3.8' });
    }
  });
});
