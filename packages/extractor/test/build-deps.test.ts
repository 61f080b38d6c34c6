import type { BuildResolution, BuildWheel } from '@pypi-graph/model';
import { describe, expect, it } from 'vitest';
import {
  missingModule,
  missingResult,
  pep517Deps,
  provenanceOf,
  resolveForKeys,
  wantedAfterRun,
} from '../src/sandbox/build-deps';
import type { SandboxResult } from '../src/sandbox/schema';

// The worker's side of build dependencies from the crawled index (docs/architecture.md §3a),
// moved from packages/cli with the sdist extractor (issue 13 §2): what a run asked for, what a
// PEP 517 run's METADATA gives as the sdist fields, what a key without its tools records.

const wheel = (name: string, version: string): BuildWheel => ({
  name,
  version,
  filename: `${name}-${version}-py3-none-any.whl`,
  url: `http://files.example/${name}-${version}-py3-none-any.whl`,
  sha256: name.padEnd(64, '0'),
  size: 10,
  fileId: 1,
});

const setupPyOk = (setup_requires: string[]): SandboxResult => ({
  ok: { install_requires: [], setup_requires, tests_require: [], extras_require: {}, python_requires: null },
});
const failure = (code: 'missing-build-dependency' | 'setup-py-error', log: string): SandboxResult => ({
  error: { code, log, tail: '' },
});

describe('missingModule', () => {
  it('names the top-level package of the module Python 3 and Python 2 could not import', () => {
    expect(missingModule("ModuleNotFoundError: No module named 'pbr.core'")).toBe('pbr');
    expect(missingModule('ImportError: No module named setuptools_scm')).toBe('setuptools_scm');
    expect(missingModule('SyntaxError: invalid syntax')).toBeNull();
  });
});

describe('wantedAfterRun', () => {
  it('asks for setup_requires it was not given, never what the sandbox ships or it already had', () => {
    const r = setupPyOk(['pbr>=2.0', 'setuptools>=40', 'Wheel', 'cffi>=1.0', '  ']);
    expect(wantedAfterRun(r, new Set(['cffi']))).toEqual(['pbr>=2.0']);
  });

  it('asks for the module a missing-build-dependency names; nothing for another failure', () => {
    expect(
      wantedAfterRun(failure('missing-build-dependency', "No module named 'pbr.version'"), new Set()),
    ).toEqual(['pbr']);
    expect(
      wantedAfterRun(failure('missing-build-dependency', "No module named 'pbr'"), new Set(['pbr'])),
    ).toEqual([]);
    expect(wantedAfterRun(failure('setup-py-error', "No module named 'pbr'"), new Set())).toEqual([]);
  });
});

describe('pep517Deps', () => {
  it('splits Requires-Dist into base and extras; an extra without requirements is kept, normalized', () => {
    const deps = pep517Deps(
      {
        install_requires: [],
        setup_requires: [],
        tests_require: [],
        extras_require: {},
        python_requires: '>=3.8',
        requires_dist: [
          'requests>=2',
          'pytest; extra == "test"',
          'rich; extra == "cli" and python_version >= "3.9"',
        ],
        provides_extra: ['test', 'cli', 'Docs_Extra'],
      },
      ['hatchling', 'hatch-vcs'],
    );
    expect(deps).toEqual({
      install_requires: ['requests>=2'],
      setup_requires: ['hatchling', 'hatch-vcs'],
      tests_require: [],
      extras_require: [
        ['test', ['pytest']],
        ['cli', ['rich; python_version >= "3.9"']],
        ['docs-extra', []],
      ],
      python_requires: '>=3.8',
    });
  });
});

describe('missingResult, provenanceOf, resolveForKeys', () => {
  it('a key whose build requirements the index lacks fails with each of them named', () => {
    const resolution: BuildResolution = {
      wheels: [],
      missing: [
        {
          requirement: 'absent-backend>=1',
          reason: 'the crawled index has no pure-Python wheel of absent-backend',
        },
        { requirement: 'other', reason: 'no version matches' },
      ],
    };
    expect(missingResult(resolution, 'pep517')).toEqual({
      error: {
        code: 'missing-build-dependency',
        log: 'build dependency not in the crawled index: absent-backend>=1 (the crawled index has no pure-Python wheel of absent-backend); other (no version matches)',
      },
      method: 'pep517',
    });
  });

  it('provenance names each wheel used by name, version, file name and sha256 (no URL)', () => {
    expect(provenanceOf('pep517', 'hatchling.build', [wheel('hatchling', '1.25.0')])).toEqual({
      method: 'pep517',
      backend: 'hatchling.build',
      build_dependencies: [
        {
          name: 'hatchling',
          version: '1.25.0',
          filename: 'hatchling-1.25.0-py3-none-any.whl',
          sha256: 'hatchling'.padEnd(64, '0'),
        },
      ],
    });
  });

  it("resolves the same requirements for each key under that key's interpreter", async () => {
    const asked: string[] = [];
    const plans = await resolveForKeys(
      async (requirements, version) => {
        asked.push(`${requirements.join(',')}@${version}`);
        return { wheels: version.startsWith('2.') ? [] : [wheel('flit-core', '3.9.0')], missing: [] };
      },
      ['flit_core>=3'],
      ['27', '311'],
    );
    expect(asked).toEqual(['flit_core>=3@2.7.18', 'flit_core>=3@3.11.7']);
    expect([...plans.keys()]).toEqual(['27', '311']);
    expect(plans.get('311')!.wheels.map((w) => w.name)).toEqual(['flit-core']);
  });
});
