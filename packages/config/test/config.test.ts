import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

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
