import type { FileDependencies } from '@pypi-graph/db';
import { describe, expect, it } from 'vitest';
import { comparePythonKeys, groupExtractions, pythonKeysLabel } from '../src/commands/show';

type Extraction = FileDependencies['extractions'][number];

function setupPy(pythonKey: string, requirements: string[], status: 'ok' | 'failed' = 'ok'): Extraction {
  return {
    pythonKey,
    method: 'setup.py',
    status,
    failureCode: status === 'failed' ? 'python-incompatible' : null,
    log: status === 'failed' ? 'SyntaxError: invalid syntax' : null,
    textRepairs: 0,
    bytesTransferred: 500,
    requests: 1,
    requirements: requirements.map((requirement) => ({ kind: 'install', requirement })),
  };
}

describe('Python keys in show', () => {
  it('sort numerically: 39 before 310, 2.7 first', () => {
    expect(['310', '39', '313', '27', '36', '311'].sort(comparePythonKeys)).toEqual([
      '27',
      '36',
      '39',
      '310',
      '311',
      '313',
    ]);
  });

  it('are labelled as runs of consecutive minor versions of one major', () => {
    expect(pythonKeysLabel(['27', '36', '37', '38', '39'])).toBe('27, 36–39');
    expect(pythonKeysLabel(['313', '312', '311', '310', '39', '38', '37', '36', '27'])).toBe('27, 36–313');
    expect(pythonKeysLabel(['36', '37'])).toBe('36, 37');
    expect(pythonKeysLabel(['38', '310', '311', '312'])).toBe('38, 310–312');
    expect(pythonKeysLabel(['27'])).toBe('27');
  });
});

describe('groupExtractions', () => {
  it('merges the Pythons whose setup.py said the same, in numeric order, and keeps the others apart', () => {
    const groups = groupExtractions([
      setupPy('310', ['six']),
      setupPy('27', ['six', 'enum34']),
      setupPy('36', ['six']),
      setupPy('39', ['six']),
      setupPy('313', [], 'failed'),
      setupPy('312', [], 'failed'),
    ]);
    expect(groups.map((g) => [g.keys, g.status, g.requirements.map((r) => r.requirement)])).toEqual([
      [['27'], 'ok', ['six', 'enum34']],
      [['36', '39', '310'], 'ok', ['six']],
      [['312', '313'], 'failed', []],
    ]);
  });

  it('keeps results that do not depend on the interpreter as they are', () => {
    const wheel: Extraction = { ...setupPy('any', ['six']), method: 'pep658' };
    expect(groupExtractions([wheel])).toEqual([{ ...wheel, keys: ['any'] }]);
  });
});
