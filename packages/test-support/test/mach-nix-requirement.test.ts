// The check of what mach-nix's requirement parser reads (mach-nix-requirement.ts), one rule per
// case, and the canonical spelling the snapshot publishes passing it where the verbatim text fails.
import { publishedRequirement } from '@pypi-graph/snapshot';
import { describe, expect, it } from 'vitest';
import { machNixAccepts, packagingReads } from '../src';

const ACCEPTED = [
  'requests',
  'zope.interface>=4',
  'Flask-Session[cachelib,memcached,mongodb,redis,sqlalchemy]; extra == "all"',
  'requests<3,>=2.20',
  'six (>=1.0)', // the old parenthesized form
  'a >=1.0, <2', // blanks before operators and versions
  'a==1.0.*',
  'a!=1.5.7,>=1.5.6; python_version >= "3.9"',
  'a>=1!2.0',
  'a==1.0+local.1',
  'a>=2.0.dev0; os_name == "nt" and (sys_platform == "linux" or sys_platform == "darwin")',
  'mylib@ https://example.org/mylib-1.0.tar.gz',
  'mylib[x,y]@ git+https://h/r.git@v1#egg=mylib ; python_version < "3"', // URL and marker dropped by mach-nix, not refused
];

const REFUSED: Array<[string, RegExp]> = [
  ['Flask-Session[cachelib, memcached, mongodb, redis, sqlalchemy] ; extra == "all"', /commas alone/],
  ['mylib @ https://example.org/mylib-1.0.tar.gz', /between the name and the @/],
  ['a===1.0', /===/],
  ['a>=1.0 ,<2', /unexpected/],
  ['a; extra == "x;y"', /more than one ;/],
  ['a>=1 # comment', /#/],
  ['a;', /empty marker/],
  ['a>=.5', /no version/],
  ['a(>=1', /unclosed/],
  ['a 1.0', /must start with one of/], // conda's bare version: read by mach-nix, never published
  ['a[b', /closing bracket/],
];

describe('machNixAccepts', () => {
  it.each(ACCEPTED)('accepts %s', (line) => {
    expect(machNixAccepts(line)).toEqual({ ok: true });
  });

  it.each(REFUSED)('refuses %s', (line, why) => {
    const v = machNixAccepts(line);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.why).toMatch(why);
  });

  it('passes the published spelling of lines whose verbatim text it refuses', () => {
    const verbatim = [
      'Flask-Session[cachelib, memcached, mongodb, redis, sqlalchemy] ; extra == "all"',
      'mylib @ https://example.org/mylib-1.0.tar.gz ; python_version < "3"',
      'a>=1.0 ,<2',
    ];
    const published = verbatim.map(publishedRequirement);
    expect(published).toEqual([
      'Flask-Session[cachelib,memcached,mongodb,redis,sqlalchemy]; extra == "all"',
      'mylib@ https://example.org/mylib-1.0.tar.gz ; python_version < "3"',
      'a<2,>=1.0',
    ]);
    for (const line of verbatim) expect(machNixAccepts(line).ok, line).toBe(false);
    for (const line of published) expect(machNixAccepts(line), line).toEqual({ ok: true });
    // packaging reads the published lines as the same requirements.
    const [before, after] = [packagingReads(verbatim), packagingReads(published)];
    expect(after.map((r) => r.ok && r.str)).toEqual(before.map((r) => r.ok && r.str));
  });
});
