import { configError } from '@pypi-graph/core';

export type Since = { kind: 'serial'; serial: number } | { kind: 'time'; time: Date };

/**
 * `--since` accepts a changelog serial (digits), `today` (00:00 UTC today), `yesterday`
 * (24 hours ago, like `git log --since yesterday`), `N hours|days ago`, or an ISO 8601 date/time.
 */
export function parseSince(value: string, now = new Date()): Since {
  const v = value.trim().toLowerCase();
  if (/^\d+$/.test(v)) return { kind: 'serial', serial: Number(v) };
  if (v === 'today') {
    return {
      kind: 'time',
      time: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
    };
  }
  if (v === 'yesterday') return { kind: 'time', time: new Date(now.getTime() - 24 * 3600_000) };
  const ago = /^(\d+)\s*(minute|hour|day|week)s?\s+ago$/.exec(v);
  if (ago) {
    const unit = { minute: 60_000, hour: 3600_000, day: 86_400_000, week: 7 * 86_400_000 }[ago[2] as 'day'];
    return { kind: 'time', time: new Date(now.getTime() - Number(ago[1]) * unit) };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(value.trim())) {
    // A bare date means midnight UTC, not local time: PyPI's clock is UTC.
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? `${value.trim()}T00:00:00Z` : value.trim();
    const time = new Date(iso);
    if (!Number.isNaN(time.getTime())) return { kind: 'time', time };
  }
  throw configError('since-invalid', `cannot read --since ${JSON.stringify(value)}`, {
    hint: 'use a serial (12345678), today, yesterday, "3 days ago" or an ISO date (2024-05-01)',
  });
}
