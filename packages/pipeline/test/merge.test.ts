import { describe, expect, it } from 'vitest';
import type { ProjectJsonInfo, SimpleProjectInfo } from '../src/api';
import { bullmqJobId } from '../src/bullmq-runner';
import { mergeProject } from '../src/merge';

const json: ProjectJsonInfo = {
  name: 'Foo_Bar',
  lastSerial: 12,
  releases: new Map([
    [
      '1.0',
      [
        {
          filename: 'Foo_Bar-1.0.tar.gz',
          url: 'http://files/Foo_Bar-1.0.tar.gz',
          sha256: 'AB'.repeat(32),
          packagetype: 'sdist',
          pythonVersion: 'source',
          size: 10,
          uploadTime: '2020-01-01T00:00:00.000000Z',
          requiresPython: null,
          yanked: false,
        },
        {
          filename: 'foo_bar-1.0-py3-none-any.whl',
          url: 'http://files/foo_bar-1.0-py3-none-any.whl',
          sha256: 'cd'.repeat(32),
          packagetype: 'bdist_wheel',
          pythonVersion: 'py3',
          size: 20,
          uploadTime: '2020-01-01T00:01:00.000000Z',
          requiresPython: '>=3.7',
          yanked: true,
          yankedReason: null,
        },
      ],
    ],
    ['2.0', []],
  ]),
};

const simple: SimpleProjectInfo = {
  name: 'foo-bar',
  lastSerial: 11,
  files: [
    { filename: 'Foo_Bar-1.0.tar.gz', url: 'x', yanked: false, coreMetadata: false },
    {
      filename: 'foo_bar-1.0-py3-none-any.whl',
      url: 'y',
      yanked: 'broken build',
      coreMetadata: { sha256: 'EF'.repeat(32) },
    },
    { filename: 'foo_bar-1.1-py3-none-any.whl', url: 'z', yanked: false, coreMetadata: true },
  ],
};

describe('mergeProject', () => {
  it('joins the two APIs by file name and keeps the older serial', () => {
    const { record, onlyInSimple, onlyInJson } = mergeProject(json, simple);
    expect(record.displayName).toBe('Foo_Bar');
    expect(record.serial).toBe(11);
    expect(record.versions).toEqual(['1.0', '2.0']);
    expect(onlyInSimple).toEqual(['foo_bar-1.1-py3-none-any.whl']);
    expect(onlyInJson).toEqual([]);
    const [sdist, wheel] = record.files;
    expect(sdist).toMatchObject({
      sha256: 'ab'.repeat(32),
      hasCoreMetadata: false,
      yanked: false,
      yankedReason: null,
    });
    expect(sdist?.uploadTime?.toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect(wheel).toMatchObject({
      version: '1.0',
      pythonVersion: 'py3',
      hasCoreMetadata: true,
      coreMetadataSha256: 'ef'.repeat(32),
      yanked: true,
      yankedReason: 'broken build',
      requiresPython: '>=3.7',
    });
  });
});

describe('bullmqJobId', () => {
  it('keeps ids distinct and free of colons', () => {
    const ids = ['project:foo:1', 'project:foo:12', 'wheel:abc', 'sdist:abc:1'].map(bullmqJobId);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).not.toContain(':');
  });
});
