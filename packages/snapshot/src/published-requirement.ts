import { boundedMemo, canonicalRequirement, parseRequirement } from '@pypi-graph/pyspec';

/**
 * How a requirement string is spelled in the published `wheel/` (`requires_dist`) and `sdist/`
 * (`install_requires`, `setup_requires`, `extras_require` values, `tests_require`) layouts; the
 * database keeps the verbatim text. readme.md, "Requirement strings".
 *
 * - The canonical PEP 508 spelling, `canonicalRequirement` (pyspec): what Python's packaging
 *   prints for it, `str(Requirement(text))`, and prints unchanged when it reads it again. A text
 *   that is already canonical is published byte for byte. Readers with a narrower grammar than
 *   PEP 508 read it: mach-nix's parser rejects, for one, the blank after the comma in
 *   `Flask-Session[cachelib, memcached] ; extra == "all"` (and with it the whole release).
 * - One exception, a direct reference: `name[extras]@ url ; marker`, without the blank packaging
 *   writes before the `@`. mach-nix cuts the line at its first `@` and then fails on the blank
 *   left at the end of `name `; PEP 508 allows both spellings, and packaging reads them as the
 *   same requirement.
 * - A text that is no requirement (setup.py can pass anything) is published as it is: it has no
 *   canonical spelling, and changing it would change what it says.
 */
export function publishedRequirement(text: string): string {
  return published(text);
}

// The same few requirements recur across a bucket (`six`, `requests`…): parse each once.
const published = boundedMemo(spell, 100_000);

function spell(text: string): string {
  const canonical = canonicalRequirement(text);
  if (canonical === null) return text;
  const r = parseRequirement(canonical);
  if (r.url === null) return canonical;
  const extras = r.extras.length > 0 ? `[${r.extras.join(',')}]` : '';
  return `${r.name}${extras}@ ${r.url}${r.markerText === null ? '' : ` ; ${r.markerText}`}`;
}
