import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSdistConcurrency, loadConfig } from '../src/config';

describe('METRICS_PORT and METRICS_HOST', () => {
  it('are off and 127.0.0.1 by default', () => {
    const c = loadConfig({});
    expect(c.metricsPort).toBeUndefined();
    expect(c.metricsHost).toBe('127.0.0.1');
    expect(loadConfig({ METRICS_PORT: '' }).metricsPort).toBeUndefined();
  });

  it('take a port (0: any free one) and an interface', () => {
    expect(loadConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadConfig({ METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(loadConfig({ METRICS_HOST: '0.0.0.0' }).metricsHost).toBe('0.0.0.0');
  });

  it.each(['-1', '65536', '1.5', 'http'])('refuse METRICS_PORT=%s with config-invalid', (port) => {
    expect(() => loadConfig({ METRICS_PORT: port })).toThrow(
      expect.objectContaining({ code: 'config-invalid', message: expect.stringContaining('METRICS_PORT') }),
    );
  });

  it('leave the config frozen', () => {
    expect(Object.isFrozen(loadConfig({ METRICS_PORT: '1' }))).toBe(true);
  });
});

describe('the settings of issue 10', () => {
  it('HTTP_DEADLINE_MS: ten minutes by default, a positive integer', () => {
    expect(loadConfig({}).httpDeadlineMs).toBe(600_000);
    expect(loadConfig({ HTTP_DEADLINE_MS: '1500' }).httpDeadlineMs).toBe(1500);
    expect(() => loadConfig({ HTTP_DEADLINE_MS: '0' })).toThrow(
      expect.objectContaining({ code: 'config-invalid' }),
    );
  });

  it('the dashboard: no login by default; host names listed, lower-cased', () => {
    const c = loadConfig({});
    expect([c.dashboardUser, c.dashboardPassword, c.dashboardHosts]).toEqual([undefined, undefined, []]);
    const d = loadConfig({
      DASHBOARD_USER: 'ops',
      DASHBOARD_PASSWORD: 'pw',
      DASHBOARD_HOSTS: 'Dash.Example.org, other.internal',
    });
    expect([d.dashboardUser, d.dashboardPassword, d.dashboardHosts]).toEqual([
      'ops',
      'pw',
      ['dash.example.org', 'other.internal'],
    ]);
  });
});

describe('SANDBOX_PYTHONS (issue 12 §9)', () => {
  const py27 = '/root/.pyenv/versions/2.7.18/bin/python2.7';
  const py39 = '/root/.pyenv/versions/3.9.18/bin/python3.9';

  it('is unset by default (the interpreters are discovered); PYENV_ROOT is taken as given', () => {
    expect(loadConfig({}).sandboxPythons).toBeUndefined();
    expect(loadConfig({ PYENV_ROOT: '/opt/pyenv' }).pyenvRoot).toBe('/opt/pyenv');
  });

  it.skipIf(!existsSync(py27) || !existsSync(py39))('maps each named version to its executable', () => {
    const c = loadConfig({ SANDBOX_PYTHONS: ` 27=${py27} , 3.9=${py39},` });
    expect(c.sandboxPythons).toEqual({ '27': py27, '39': py39 });
    expect(Object.isFrozen(c.sandboxPythons)).toBe(true);
  });

  it('refuses a path that does not exist, naming it', () => {
    expect(() => loadConfig({ SANDBOX_PYTHONS: `27=${py27},36=/nowhere/bin/python3.6` })).toThrow(
      expect.objectContaining({
        code: 'config-invalid',
        message: 'invalid configuration: SANDBOX_PYTHONS: 36=/nowhere/bin/python3.6: no such file',
        hint: expect.stringContaining('KEY=PATH'),
      }),
    );
  });

  it('refuses a directory, a file that is not executable, an unknown version, one named twice, and no KEY=PATH', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pypi-graph-config-'));
    try {
      const plain = path.join(dir, 'python3.8');
      writeFileSync(plain, '');
      chmodSync(plain, 0o644);
      const cases: [string, string][] = [
        [`38=${dir}`, `38=${dir}: not a file`],
        [`38=${plain}`, `38=${plain}: not executable`],
        [`34=${py27}`, '"34=/root/.pyenv/versions/2.7.18/bin/python2.7": unknown Python version "34"'],
        [`27=${py27},2.7=${py27}`, 'Python 27 is named twice'],
        [py27, `"${py27}" is not KEY=PATH`],
        [',', 'names no interpreter'],
      ];
      for (const [value, message] of cases) {
        expect(() => loadConfig({ SANDBOX_PYTHONS: value }), value).toThrow(
          expect.objectContaining({
            code: 'config-invalid',
            message: expect.stringContaining(`SANDBOX_PYTHONS: ${message}`),
          }),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SDIST_CONCURRENCY', () => {
  it('defaults from the cores (builds of 3 interpreters, plus one) and the memory (2 GiB per build)', () => {
    // 2 cores: one build's 3 interpreters already fill them; a second overlaps its serial steps
    expect(defaultSdistConcurrency(2, 24 * 1024)).toBe(2);
    expect(defaultSdistConcurrency(1, 24 * 1024)).toBe(2);
    expect(defaultSdistConcurrency(8, 64 * 1024)).toBe(4);
    expect(defaultSdistConcurrency(32, 256 * 1024)).toBe(12);
    // memory bounds it: 32 cores but 8 GiB hold 4 builds at their cap
    expect(defaultSdistConcurrency(32, 8 * 1024)).toBe(4);
    expect(defaultSdistConcurrency(4, 1024)).toBe(1);
  });

  it('is that default when unset, and what the environment says otherwise', () => {
    expect(loadConfig({}).sdistConcurrency).toBe(
      defaultSdistConcurrency(os.availableParallelism(), os.totalmem() / 1024 / 1024),
    );
    expect(loadConfig({ SDIST_CONCURRENCY: '1' }).sdistConcurrency).toBe(1);
    expect(() => loadConfig({ SDIST_CONCURRENCY: '0' })).toThrow();
  });
});
