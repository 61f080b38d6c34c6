// The sdist-extract stage alone, on PGlite. The extractor here is a fake of the boundary the
// stage hands a file to: packages/extractor downloads the sdist over HTTP and reads its static
// metadata or runs setup.py in the Nix sandbox, which test/e2e/sdists.test.ts covers for real.
// Here it answers from memory, so that a static result, a setup.py result or a failure of a
// given code can be put in front of the stage and what the stage stored read back. Each case
// uses its own project.
import { CrawlError } from '@pypi-graph/core';
import { failedFileWork, listFilesWithoutResult, sdistsWithoutDependencies } from '@pypi-graph/db';
import type { SdistExtractor, SdistOutcome } from '@pypi-graph/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDIST_EXTRACTOR_VERSION, sdistQueue } from '../../src/stages/sdist-extract';
import { jobInfo, type StageEnv, sha, stageEnv, storedExtractions, storeOneFile } from '../stage-env';

let env: StageEnv;
beforeAll(async () => {
  env = await stageEnv();
});
afterAll(async () => env?.close());
const storeSdist = (project: string, filename: string, digit: string) =>
  storeOneFile(env, project, filename, digit, 'sdist');
const extractionsOf = (project: string) => storedExtractions(env, project);

/** Answers from memory: an outcome by file name, or the error the file gives. */
class FakeSdists implements SdistExtractor {
  readonly extracted: string[] = [];
  constructor(
    private readonly files: Record<string, SdistOutcome | Error>,
    private readonly sandbox: 'unchecked' | 'proven' | 'unavailable' = 'proven',
  ) {}

  async extract(file: { filename: string }): Promise<SdistOutcome> {
    this.extracted.push(file.filename);
    const answer = this.files[file.filename];
    if (answer === undefined) throw new CrawlError('http-4xx', `${file.filename}: 404`);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  sandboxState() {
    return this.sandbox;
  }
}

async function stillWithoutResult(project: string): Promise<boolean> {
  return (await sdistsWithoutDependencies(env.database.db, project, SDIST_EXTRACTOR_VERSION)).length > 0;
}

describe('an sdist-extract job', () => {
  it('stores a static result: every field in order, an empty extra kept', async () => {
    await storeSdist('static-pkg', 'static-pkg-1.0.tar.gz', '1');
    expect(await stillWithoutResult('static-pkg')).toBe(true);
    const sdists = new FakeSdists({
      'static-pkg-1.0.tar.gz': {
        kind: 'static',
        method: 'pkg-info',
        bytesTransferred: 2048,
        textRepairs: 0,
        deps: {
          install_requires: ['requests>=2', 'not a requirement !!'],
          setup_requires: ['setuptools>=61'],
          tests_require: [],
          extras_require: [
            ['socks', ['PySocks!=1.5.7']],
            ['empty', []],
          ],
          python_requires: '>=3.8',
        },
      },
    });
    const out = await sdistQueue.process(
      env.ctx({ sdists }),
      { sha256: sha('1'), filename: 'static-pkg-1.0.tar.gz' },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'ok', method: 'pkg-info' });

    const [e, ...more] = await extractionsOf('static-pkg');
    expect(more).toEqual([]);
    expect(e).toMatchObject({
      pythonKey: 'any',
      method: 'pkg-info',
      status: 'ok',
      failureCode: null,
      bytesTransferred: 2048,
      requests: 1,
    });
    expect(e?.requirements.map((r) => [r.kind, r.extra ?? null, r.requirement, r.name ?? null])).toEqual([
      ['install', null, 'requests>=2', 'requests'],
      // Kept verbatim though it does not parse (docs/formats.md §D).
      ['install', null, 'not a requirement !!', null],
      ['setup', null, 'setuptools>=61', 'setuptools'],
      ['extra', 'socks', 'PySocks!=1.5.7', 'PySocks'],
      ['extra', 'empty', '', null],
      ['python', null, '>=3.8', null],
    ]);
    expect(await stillWithoutResult('static-pkg')).toBe(false);
  });

  it('stores a setup.py result per Python, a Python missing here as waiting', async () => {
    await storeSdist('setup-pkg', 'setup-pkg-1.0.tar.gz', '2');
    let released = 0;
    const sdists = new FakeSdists({
      'setup-pkg-1.0.tar.gz': {
        kind: 'setup.py',
        bytesTransferred: 512,
        release: async () => {
          released++;
        },
        results: {
          python312: {
            ok: {
              install_requires: ['six'],
              setup_requires: [],
              tests_require: ['pytest'],
              extras_require: [],
              python_requires: null,
            },
          },
          python27: { error: { code: 'setup-py-error', log: 'SyntaxError' } },
          python36: { error: { code: 'python-unavailable', log: 'no python3.6 here' } },
        },
      },
    });
    const out = await sdistQueue.process(
      env.ctx({ sdists }),
      { sha256: sha('2'), filename: 'setup-pkg-1.0.tar.gz' },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'ok', method: 'setup.py' });
    expect(released).toBe(1);
    const byKey = Object.fromEntries((await extractionsOf('setup-pkg')).map((e) => [e.pythonKey, e]));
    expect(byKey.python312).toMatchObject({ method: 'setup.py', status: 'ok', failureCode: null });
    expect(byKey.python312?.requirements.map((r) => [r.kind, r.requirement])).toEqual([
      ['install', 'six'],
      ['test', 'pytest'],
    ]);
    expect(byKey.python27).toMatchObject({
      status: 'failed',
      failureCode: 'setup-py-error',
      log: 'SyntaxError',
    });
    expect(byKey.python36).toMatchObject({ status: 'waiting', failureCode: 'python-unavailable' });
  });

  it('records a permanent failure against the file with its code, and ends the job', async () => {
    await storeSdist('broken-sdist', 'broken-sdist-1.0.tar.gz', '3');
    const sdists = new FakeSdists({
      'broken-sdist-1.0.tar.gz': new CrawlError('archive-corrupt', 'unexpected end of gzip'),
    });
    const out = await sdistQueue.process(
      env.ctx({ sdists }),
      { sha256: sha('3'), filename: 'broken-sdist-1.0.tar.gz' },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'failed', code: 'archive-corrupt' });
    expect(await extractionsOf('broken-sdist')).toMatchObject([
      { method: 'sdist', status: 'failed', failureCode: 'archive-corrupt', log: 'unexpected end of gzip' },
    ]);
    expect(
      await failedFileWork(env.database.db, { sdist: SDIST_EXTRACTOR_VERSION }, { project: 'broken-sdist' }),
    ).toEqual([
      {
        sha256: sha('3'),
        filename: 'broken-sdist-1.0.tar.gz',
        packagetype: 'sdist',
        codes: ['archive-corrupt'],
      },
    ]);
    expect(await stillWithoutResult('broken-sdist')).toBe(false);
  });

  it('without a sandbox, leaves the file waiting (not failed), and does not fetch it again', async () => {
    await storeSdist('needs-sandbox', 'needs-sandbox-1.0.tar.gz', '4');
    const payload = { sha256: sha('4'), filename: 'needs-sandbox-1.0.tar.gz' };
    const first = new FakeSdists(
      { 'needs-sandbox-1.0.tar.gz': new CrawlError('sandbox-unavailable', 'no Nix here') },
      'unavailable',
    );
    expect(await sdistQueue.process(env.ctx({ sdists: first }), payload, jobInfo())).toEqual({
      status: 'waiting',
      code: 'sandbox-unavailable',
    });
    expect(await extractionsOf('needs-sandbox')).toMatchObject([
      { method: 'sdist', status: 'waiting', failureCode: 'sandbox-unavailable' },
    ]);
    expect(
      await failedFileWork(env.database.db, { sdist: SDIST_EXTRACTOR_VERSION }, { project: 'needs-sandbox' }),
    ).toEqual([]);
    // Still work to do: listed among the files without a result.
    const without = await listFilesWithoutResult(env.database.db, 'sdist', SDIST_EXTRACTOR_VERSION, 0, 1000);
    expect(without.map((f) => f.filename)).toContain('needs-sandbox-1.0.tar.gz');

    // Known to wait for a sandbox, and still none in this process: not downloaded again.
    const second = new FakeSdists({}, 'unavailable');
    expect(await sdistQueue.process(env.ctx({ sdists: second }), payload, jobInfo())).toEqual({
      status: 'waiting',
      code: 'sandbox-unavailable',
    });
    expect(second.extracted).toEqual([]);
  });
});
