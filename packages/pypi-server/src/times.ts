// Upload times are kept in microseconds since the epoch (UTC), because PyPI stores them with
// microseconds and prints them with Python's datetime.isoformat(), which shows the fraction
// only when it is not zero: "2020-01-01T00:00:00Z" but "2023-10-02T12:03:33.588914Z".

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses an ISO 8601 date-time (no zone means UTC, as warehouse's naive datetimes are). */
export function parseIsoMicros(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return ms * 1000 + Number((frac ?? '').padEnd(6, '0'));
}

function parts(us: number): { date: string; frac: number } {
  const ms = Math.floor(us / 1000);
  const frac = us - ms * 1000 + (ms % 1000) * 1000;
  const whole = new Date(ms - (ms % 1000)).toISOString().slice(0, 19);
  return { date: whole, frac };
}

/** `upload_time.isoformat() + "Z"`: PEP 700 `upload-time` and the JSON API's `upload_time_iso_8601`. */
export function isoformatZ(us: number): string {
  const { date, frac } = parts(us);
  return frac === 0 ? `${date}Z` : `${date}.${String(frac).padStart(6, '0')}Z`;
}

/** `upload_time.strftime("%Y-%m-%dT%H:%M:%S")`: the JSON API's `upload_time`. */
export function strftimeSeconds(us: number): string {
  return parts(us).date;
}

/** Whole seconds, as the XML-RPC changelog's `int(submitted_date.timestamp())`. */
export function epochSeconds(us: number): number {
  return Math.floor(us / 1_000_000);
}

/** RFC 9110 HTTP-date, for Last-Modified. */
export function httpDate(us: number): string {
  return new Date(Math.floor(us / 1000)).toUTCString();
}
