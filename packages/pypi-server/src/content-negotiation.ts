// PEP 691 content negotiation for the Simple API.
// https://peps.python.org/pep-0691/#version-format-selection
// https://packaging.python.org/en/latest/specifications/simple-repository-api/#serve-file-content-negotiation
//
// Warehouse offers text/html, application/vnd.pypi.simple.v1+html and
// application/vnd.pypi.simple.v1+json, in that order of preference, and picks the acceptable
// offer with the highest q-value (webob's `acceptable_offers`, ties by offer order); with no
// Accept header it serves text/html (warehouse/api/simple.py). On top of warehouse this
// server also understands the `latest` aliases PEP 691 defines, the `?format=` URL parameter
// PEP 691 allows, and answers 406 when nothing offered is acceptable (one of the three
// responses PEP 691 permits; warehouse falls back to text/html instead).

export const MIME_HTML = 'text/html';
export const MIME_SIMPLE_HTML = 'application/vnd.pypi.simple.v1+html';
export const MIME_SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';

export type SimpleFormat = typeof MIME_HTML | typeof MIME_SIMPLE_HTML | typeof MIME_SIMPLE_JSON;

const OFFERS: SimpleFormat[] = [MIME_HTML, MIME_SIMPLE_HTML, MIME_SIMPLE_JSON];

// `latest` resolves to the newest version this server speaks (v1).
const ALIASES: Record<string, string> = {
  'application/vnd.pypi.simple.latest+html': MIME_SIMPLE_HTML,
  'application/vnd.pypi.simple.latest+json': MIME_SIMPLE_JSON,
};

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] | undefined {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [mediaRaw, ...params] = part.split(';').map((s) => s.trim());
    if (!mediaRaw) continue;
    const media = ALIASES[mediaRaw.toLowerCase()] ?? mediaRaw.toLowerCase();
    const slash = media.indexOf('/');
    if (slash <= 0 || slash === media.length - 1) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (m) {
        q = Number(m[1]);
        if (!Number.isFinite(q) || q < 0 || q > 1) q = 0;
      }
    }
    ranges.push({ type: media.slice(0, slash), subtype: media.slice(slash + 1), q });
  }
  return ranges.length > 0 ? ranges : undefined;
}

/** The q-value the most specific matching range gives an offer (RFC 9110 §12.5.1). */
function qualityOf(offer: string, ranges: MediaRange[]): number {
  const [type, subtype] = offer.split('/') as [string, string];
  let best = -1;
  let specificity = -1;
  for (const r of ranges) {
    let s: number;
    if (r.type === type && r.subtype === subtype) s = 2;
    else if (r.type === type && r.subtype === '*') s = 1;
    else if (r.type === '*' && r.subtype === '*') s = 0;
    else continue;
    if (s > specificity) {
      specificity = s;
      best = r.q;
    }
  }
  return best;
}

/**
 * The representation to serve, or undefined for 406 Not Acceptable. `format` is the
 * `?format=` query parameter, which wins over the Accept header.
 */
export function selectSimpleFormat(
  accept: string | undefined,
  format: string | null,
): SimpleFormat | undefined {
  if (format !== null) {
    const f = (ALIASES[format.trim().toLowerCase()] ?? format.trim().toLowerCase()) as SimpleFormat;
    return OFFERS.includes(f) ? f : undefined;
  }
  if (!accept || accept.trim() === '') return MIME_HTML;
  const ranges = parseAccept(accept);
  if (!ranges) return MIME_HTML;
  let chosen: SimpleFormat | undefined;
  let chosenQ = 0;
  for (const offer of OFFERS) {
    const q = qualityOf(offer, ranges);
    if (q > chosenQ) {
      chosen = offer;
      chosenQ = q;
    }
  }
  return chosen;
}
