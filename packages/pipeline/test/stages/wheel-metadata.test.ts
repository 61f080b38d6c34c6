// The wheel-metadata stage alone, on PGlite. The wheel reader here is a fake of the network
// boundary: packages/extractor reads METADATA from the file host over HTTP (PEP 658, range
// requests, a download), which test/e2e/wheels.test.ts covers against a real HTTP index. Here it
// answers from memory, so that a result, or a failure of a given code, can be put in front of
// the stage and what the stage stored read back. Each case uses its own project.
import { CrawlError } from '@pypi-graph/core';
import { countFilesWithoutResult, failedFileWork } from '@pypi-graph/db';
import type { WheelMetadataResult } from '@pypi-graph/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WheelMetadataReader } from '../../src/context';
import { WHEEL_EXTRACTOR_VERSION, wheelQueue } from '../../src/stages/wheel-metadata';
import { jobInfo, type StageEnv, sha, stageEnv, storedExtractions, storeOneFile } from '../stage-env';

let env: StageEnv;
beforeAll(async () => {
  env = await stageEnv();
});
afterAll(async () => env?.close());
const storeWheel = (project: string, filename: string, digit: string) =>
  storeOneFile(env, project, filename, digit, 'bdist_wheel');
const extractionsOf = (project: string) => storedExtractions(env, project);

/** Reads from memory: a METADATA by file name, or the error the file gives. */
class FakeWheelHost implements WheelMetadataReader {
  constructor(private readonly files: Record<string, WheelMetadataResult | Error>) {}

  async read(file: { filename: string }): Promise<WheelMetadataResult> {
    const answer = this.files[file.filename];
    if (answer === undefined) throw new CrawlError('http-4xx', `${file.filename}: 404`);
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

const METADATA = Buffer.from(
  [
    'Metadata-Version: 2.1',
    'Name: wheely',
    'Version: 1.0',
    'Requires-Python: >=3.8',
    'Requires-Dist: requests (>=2.0)',
    'Requires-Dist: pytest; extra == "test"',
    'Provides-Extra: test',
    '',
    '',
  ].join('\n'),
);

describe('a wheel-metadata job', () => {
  it("stores the wheel's requirements as its result, and the wheel no longer waits for one", async () => {
    await storeWheel('wheely', 'wheely-1.0-py3-none-any.whl', 'a');
    const waiting = (await countFilesWithoutResult(env.database.db, 'bdist_wheel', WHEEL_EXTRACTOR_VERSION))
      .count;
    const host = new FakeWheelHost({
      'wheely-1.0-py3-none-any.whl': {
        method: 'pep658',
        bytesTransferred: 321,
        requests: 1,
        metadata: METADATA,
        distInfo: 'wheely-1.0.dist-info',
        fallbacks: [],
      },
    });
    const out = await wheelQueue.process(
      env.ctx({ wheels: host }),
      { sha256: sha('a'), filename: 'wheely-1.0-py3-none-any.whl' },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'ok', method: 'pep658' });

    const [e, ...more] = await extractionsOf('wheely');
    expect(more).toEqual([]);
    expect(e).toMatchObject({
      filename: 'wheely-1.0-py3-none-any.whl',
      pythonKey: 'any',
      method: 'pep658',
      status: 'ok',
      failureCode: null,
      bytesTransferred: 321,
      requests: 1,
    });
    expect(e?.requirements.map((r) => [r.kind, r.requirement, r.name ?? null, r.marker ?? null])).toEqual([
      ['install', 'requests (>=2.0)', 'requests', null],
      ['install', 'pytest; extra == "test"', 'pytest', 'extra == "test"'],
      ['python', '>=3.8', null, null],
      ['provides-extra', 'test', null, null],
    ]);
    expect(
      (await countFilesWithoutResult(env.database.db, 'bdist_wheel', WHEEL_EXTRACTOR_VERSION)).count,
    ).toBe(waiting - 1);
  });

  it('records a permanent failure against the file with its code, and ends the job', async () => {
    await storeWheel('broken-wheel', 'broken_wheel-1.0-py3-none-any.whl', 'b');
    const host = new FakeWheelHost({
      'broken_wheel-1.0-py3-none-any.whl': new CrawlError('archive-corrupt', 'not a zip file'),
    });
    const out = await wheelQueue.process(
      env.ctx({ wheels: host }),
      { sha256: sha('b'), filename: 'broken_wheel-1.0-py3-none-any.whl' },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'failed', code: 'archive-corrupt' });
    expect(await extractionsOf('broken-wheel')).toMatchObject([
      {
        method: 'wheel',
        status: 'failed',
        failureCode: 'archive-corrupt',
        log: 'not a zip file',
        requirements: [],
      },
    ]);
    expect(
      await failedFileWork(
        env.database.db,
        { bdist_wheel: WHEEL_EXTRACTOR_VERSION },
        { project: 'broken-wheel' },
      ),
    ).toEqual([
      {
        sha256: sha('b'),
        filename: 'broken_wheel-1.0-py3-none-any.whl',
        packagetype: 'bdist_wheel',
        codes: ['archive-corrupt'],
      },
    ]);
  });

  it('leaves a retryable failure to the runner, and records it once the attempts are spent', async () => {
    await storeWheel('flaky-wheel', 'flaky_wheel-1.0-py3-none-any.whl', 'c');
    const down = new CrawlError('http-5xx', 'file host: 503');
    const host = new FakeWheelHost({ 'flaky_wheel-1.0-py3-none-any.whl': down });
    const payload = { sha256: sha('c'), filename: 'flaky_wheel-1.0-py3-none-any.whl' };
    await expect(wheelQueue.process(env.ctx({ wheels: host }), payload, jobInfo())).rejects.toBe(down);
    expect(await extractionsOf('flaky-wheel')).toEqual([]);

    await wheelQueue.onFailed?.(env.ctx({ wheels: host }), payload, down);
    expect(await extractionsOf('flaky-wheel')).toMatchObject([
      { method: 'wheel', status: 'failed', failureCode: 'http-5xx', log: 'file host: 503' },
    ]);
  });

  it('does nothing for a file that is not stored (gone since it was queued)', async () => {
    const host = new FakeWheelHost({});
    const out = await wheelQueue.process(
      env.ctx({ wheels: host }),
      { sha256: sha('d'), filename: 'never-1.0-py3-none-any.whl' },
      jobInfo(),
    );
    expect(out).toEqual({ status: 'gone' });
    await wheelQueue.onFailed?.(
      env.ctx({ wheels: host }),
      { sha256: sha('d'), filename: 'never-1.0-py3-none-any.whl' },
      new CrawlError('http-5xx', 'down'),
    );
    expect(
      await failedFileWork(env.database.db, { bdist_wheel: WHEEL_EXTRACTOR_VERSION }),
    ).not.toContainEqual(expect.objectContaining({ filename: 'never-1.0-py3-none-any.whl' }));
  });
});
