import { describe, expect, it } from 'vitest';
import { parseSince } from '../src/since';

const now = new Date('2026-11-26T15:30:00Z');

describe('parseSince', () => {
  it('reads serials, relative times and ISO dates', () => {
    expect(parseSince('123456', now)).toEqual({ kind: 'serial', serial: 123456 });
    expect(parseSince('today', now)).toEqual({ kind: 'time', time: new Date('2026-11-26T00:00:00Z') });
    expect(parseSince('yesterday', now)).toEqual({ kind: 'time', time: new Date('2026-11-25T15:30:00Z') });
    expect(parseSince('3 days ago', now)).toEqual({ kind: 'time', time: new Date('2026-11-23T15:30:00Z') });
    expect(parseSince('2 hours ago', now)).toEqual({ kind: 'time', time: new Date('2026-11-26T13:30:00Z') });
    expect(parseSince('2024-05-01', now)).toEqual({ kind: 'time', time: new Date('2024-05-01T00:00:00Z') });
    expect(parseSince('2024-05-01T12:00:00+02:00', now)).toEqual({
      kind: 'time',
      time: new Date('2024-05-01T10:00:00Z'),
    });
  });

  it('rejects anything else with a hint', () => {
    for (const bad of ['', 'tomorrow-ish', '-5', '2024-13-45', 'yesterday; rm']) {
      expect(() => parseSince(bad, now), bad).toThrow(expect.objectContaining({ code: 'since-invalid' }));
    }
  });
});
