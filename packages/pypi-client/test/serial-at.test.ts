import { describe, expect, it } from 'vitest';
import { type ChangelogRow, createPypiClient } from '../src';
import { findSerialAt } from '../src/changelog';
import { startServer, testConfig, xmlrpcHandler } from './helpers';

/** A deterministic pseudo-random generator, so failures can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A changelog with gaps in the serials and runs of equal timestamps, like PyPI's journal. */
function fakeChangelog(n: number, seed: number): ChangelogRow[] {
  const random = rng(seed);
  const rows: ChangelogRow[] = [];
  let serial = 0;
  let ts = 1_600_000_000;
  for (let i = 0; i < n; i++) {
    serial += 1 + Math.floor(random() * 3);
    ts += random() < 0.4 ? 0 : Math.floor(random() * 100);
    rows.push({
      name: `p${i % 7}`,
      version: i % 5 === 0 ? null : `1.${i}`,
      timestamp: ts,
      action: 'new release',
      serial,
    });
  }
  return rows;
}

/** `changelog_since_serial` over `rows`, answering at most `pageSize` rows like PyPI does. */
function sinceOf(rows: ChangelogRow[], pageSize: number) {
  const calls: number[] = [];
  const since = async (s: number) => {
    calls.push(s);
    return rows.filter((r) => r.serial > s).slice(0, pageSize);
  };
  return { since, calls };
}

/** The answer by definition: the serial of the last row before `time`, or 0. */
function linear(rows: ChangelogRow[], time: number): number {
  let answer = 0;
  for (const r of rows) if (r.timestamp < time) answer = r.serial;
  return answer;
}

describe('changelogSerialAt (binary search)', () => {
  const rows = fakeChangelog(2000, 1);
  const last = rows.at(-1)!.serial;

  it('finds the serial just before a time, at the edges and in the middle', async () => {
    const { since } = sinceOf(rows, 50);
    const first = rows[0]!;
    // Before everything: nothing happened yet.
    expect((await findSerialAt(since, last, first.timestamp - 1)).serial).toBe(0);
    // Exactly at the first event: that event is "since", so the answer is before it.
    expect((await findSerialAt(since, last, first.timestamp)).serial).toBe(0);
    // After everything.
    expect((await findSerialAt(since, last, rows.at(-1)!.timestamp + 1)).serial).toBe(last);
    // In the middle, on a timestamp shared by several rows: all of them are after the answer.
    const shared = rows.find((r, i) => i > 1000 && rows[i + 1]?.timestamp === r.timestamp)!;
    const result = await findSerialAt(since, last, shared.timestamp);
    const firstWithTs = rows.find((r) => r.timestamp === shared.timestamp)!;
    expect(rows.find((r) => r.serial > result.serial)).toBe(firstWithTs);
    expect(result.serial).toBe(linear(rows, shared.timestamp));
  });

  it('agrees with a linear scan for many times and page sizes, in logarithmically many probes', async () => {
    const random = rng(7);
    const lo = rows[0]!.timestamp - 10;
    const hi = rows.at(-1)!.timestamp + 10;
    for (const pageSize of [1, 3, 50, 5000]) {
      for (let i = 0; i < 40; i++) {
        // Half the times fall exactly on an event's timestamp, where off-by-one errors live.
        const time =
          i % 2 === 0
            ? rows[Math.floor(random() * rows.length)]!.timestamp
            : lo + Math.floor(random() * (hi - lo));
        const { since, calls } = sinceOf(rows, pageSize);
        const result = await findSerialAt(since, last, time);
        expect(result.serial, `time ${time}, page ${pageSize}`).toBe(linear(rows, time));
        expect(calls.length).toBeLessThanOrEqual(Math.ceil(Math.log2(last + 1)) + 1);
        expect(result.probes).toBe(calls.length);
      }
    }
  });

  it('handles an empty changelog', async () => {
    const { since, calls } = sinceOf([], 10);
    expect(await findSerialAt(since, 0, 1_700_000_000)).toEqual({ serial: 0, probes: 0 });
    expect(calls).toEqual([]);
  });

  it('runs over XML-RPC against a fake index', async () => {
    const server = await startServer(
      xmlrpcHandler({
        changelog_last_serial: () => ({ value: last }),
        changelog_since_serial: ([s]) => ({
          value: rows
            .filter((r) => r.serial > (s ?? 0))
            .slice(0, 100)
            .map((r) => [r.name, r.version, r.timestamp, r.action, r.serial]),
        }),
      }),
    );
    const client = createPypiClient(testConfig(server.url));
    try {
      const time = rows[777]!.timestamp;
      const at = await client.changelogSerialAt(new Date(time * 1000));
      expect(at.serial).toBe(linear(rows, time));
      // One changelog_last_serial call plus the probes.
      expect(server.requests).toHaveLength(at.probes + 1);
      const again = await client.changelogSerialAt(time, { lastSerial: last });
      expect(again.serial).toBe(at.serial);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
