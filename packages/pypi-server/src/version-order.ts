// How warehouse orders and matches release versions:
// - `_pypi_ordering` and the Simple API's file order sort with `packaging_legacy.version.parse`:
//   PEP 440 versions in PEP 440 order, anything else as a LegacyVersion that sorts before them.
// - the "latest" release (JSON API `info.version`) is the first by
//   (yanked, is_prerelease NULLS LAST, _pypi_ordering DESC) (warehouse/legacy/api/json.py).
// - `/pypi/<name>/<version>/json` matches `canonicalize_version(version)` (packaging.utils).
// https://packaging.python.org/en/latest/specifications/version-specifiers/

const PEP440 = new RegExp(
  '^\\s*v?' +
    '(?:(?<epoch>[0-9]+)!)?' +
    '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?' +
    '(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?' +
    '(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?' +
    '\\s*$',
  'i',
);

export interface Pep440Version {
  epoch: bigint;
  release: bigint[];
  pre?: [string, bigint];
  post?: bigint;
  dev?: bigint;
  local?: Array<bigint | string>;
}

export function parsePep440(version: string): Pep440Version | undefined {
  const m = PEP440.exec(version);
  if (!m?.groups) return undefined;
  const g = m.groups;
  const parsed: Pep440Version = {
    epoch: BigInt(g.epoch ?? '0'),
    release: g.release!.split('.').map((x) => BigInt(x)),
  };
  if (g.pre_l) {
    const l = g.pre_l.toLowerCase();
    const letter =
      l === 'alpha' ? 'a' : l === 'beta' ? 'b' : l === 'c' || l === 'pre' || l === 'preview' ? 'rc' : l;
    parsed.pre = [letter, BigInt(g.pre_n ?? '0')];
  }
  if (g.post) parsed.post = BigInt(g.post_n1 ?? g.post_n2 ?? '0');
  if (g.dev) parsed.dev = BigInt(g.dev_n ?? '0');
  if (g.local) {
    parsed.local = g.local
      .toLowerCase()
      .split(/[-_.]/)
      .map((p) => (/^[0-9]+$/.test(p) ? BigInt(p) : p));
  }
  return parsed;
}

/** packaging's `Version.is_prerelease`; undefined for versions that are not PEP 440. */
export function isPrerelease(version: string): boolean | undefined {
  const v = parsePep440(version);
  if (!v) return undefined;
  return v.pre !== undefined || v.dev !== undefined;
}

/** packaging.utils.canonicalize_version: normalized, trailing `.0`s dropped; other strings unchanged. */
export function canonicalizeVersion(version: string): string {
  const v = parsePep440(version);
  if (!v) return version;
  let s = v.epoch !== 0n ? `${v.epoch}!` : '';
  s += v.release.join('.').replace(/(\.0)+$/, '');
  if (v.pre) s += `${v.pre[0]}${v.pre[1]}`;
  if (v.post !== undefined) s += `.post${v.post}`;
  if (v.dev !== undefined) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

type Key = { kind: 'pep440'; v: Pep440Version } | { kind: 'legacy'; parts: string[] };

const keyCache = new Map<string, Key>();

function keyOf(version: string): Key {
  let key = keyCache.get(version);
  if (!key) {
    const v = parsePep440(version);
    key = v ? { kind: 'pep440', v } : { kind: 'legacy', parts: legacyParts(version) };
    if (keyCache.size > 100_000) keyCache.clear();
    keyCache.set(version, key);
  }
  return key;
}

// packaging_legacy.version._legacy_cmpkey
function legacyParts(version: string): string[] {
  const replace: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };
  const parts: string[] = [];
  const pieces = version
    .toLowerCase()
    .split(/(\d+|[a-z]+|\.|-)/)
    .map((p) => replace[p] ?? p)
    .filter((p) => p !== '' && p !== '.')
    .map((p) => (/^[0-9]/.test(p) ? p.padStart(8, '0') : `*${p}`));
  pieces.push('*final');
  for (const part of pieces) {
    if (part.startsWith('*')) {
      if (part < '*final') {
        while (parts.length > 0 && parts.at(-1) === '*final-') parts.pop();
      }
      while (parts.length > 0 && parts.at(-1) === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function cmp<T extends bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePep440(a: Pep440Version, b: Pep440Version): number {
  let c = cmp(a.epoch, b.epoch);
  if (c) return c;
  const ra = trimZeros(a.release);
  const rb = trimZeros(b.release);
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    if (i >= ra.length) return -1;
    if (i >= rb.length) return 1;
    c = cmp(ra[i]!, rb[i]!);
    if (c) return c;
  }
  // Pre-release: a dev release without pre/post sorts before any pre-release; no pre sorts after.
  c = preRank(a) - preRank(b);
  if (c) return c;
  if (a.pre && b.pre) {
    c = cmp(a.pre[0], b.pre[0]) || cmp(a.pre[1], b.pre[1]);
    if (c) return c;
  }
  c = (a.post === undefined ? -1 : 0) - (b.post === undefined ? -1 : 0);
  if (c) return c;
  if (a.post !== undefined && b.post !== undefined) {
    c = cmp(a.post, b.post);
    if (c) return c;
  }
  c = (a.dev === undefined ? 1 : 0) - (b.dev === undefined ? 1 : 0);
  if (c) return c;
  if (a.dev !== undefined && b.dev !== undefined) {
    c = cmp(a.dev, b.dev);
    if (c) return c;
  }
  return compareLocal(a.local, b.local);
}

function preRank(v: Pep440Version): number {
  if (!v.pre && v.post === undefined && v.dev !== undefined) return -1;
  return v.pre ? 0 : 1;
}

function trimZeros(release: bigint[]): bigint[] {
  let n = release.length;
  while (n > 1 && release[n - 1] === 0n) n--;
  return release.slice(0, n);
}

function compareLocal(a?: Array<bigint | string>, b?: Array<bigint | string>): number {
  if (!a || !b) return (a ? 1 : 0) - (b ? 1 : 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i >= a.length) return -1;
    if (i >= b.length) return 1;
    const x = a[i]!;
    const y = b[i]!;
    // Numeric segments sort after alphanumeric ones.
    if (typeof x !== typeof y) return typeof x === 'bigint' ? 1 : -1;
    const c = cmp(x as bigint | string, y as bigint | string);
    if (c) return c;
  }
  return 0;
}

/** Compares like `packaging_legacy.version.parse(a) < parse(b)`; legacy versions sort first. */
export function compareVersions(a: string, b: string): number {
  const ka = keyOf(a);
  const kb = keyOf(b);
  if (ka.kind !== kb.kind) return ka.kind === 'legacy' ? -1 : 1;
  if (ka.kind === 'pep440' && kb.kind === 'pep440') return comparePep440(ka.v, kb.v);
  const pa = (ka as { parts: string[] }).parts;
  const pb = (kb as { parts: string[] }).parts;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (i >= pa.length) return -1;
    if (i >= pb.length) return 1;
    const c = cmp(pa[i]!, pb[i]!);
    if (c) return c;
  }
  return 0;
}
