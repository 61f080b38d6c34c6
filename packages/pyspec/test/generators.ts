import type { Rng } from './helpers';

// Random inputs for the cross-checks: mostly well-formed, with every grammar corner reachable,
// plus mutations that break them in small ways.

const NAMES = [
  'requests',
  'zope.interface',
  'Foo_Bar',
  'a',
  '3to2',
  'x-y',
  'foo_',
  'foo.',
  'foo-',
  '_foo',
  '-foo',
  'A1.b2-c3_d4',
  'föo',
  'foo9',
  'in',
  'and',
  'extra',
];

const VARIABLES = [
  'python_version',
  'python_full_version',
  'os_name',
  'os.name',
  'sys_platform',
  'sys.platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform.version',
  'platform_machine',
  'platform.machine',
  'platform_python_implementation',
  'platform.python_implementation',
  'python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
  'extras',
  'dependency_groups',
];

const MARKER_OPS = ['<', '<=', '==', '!=', '>=', '>', '~=', '===', 'in', 'not in', 'not  in', 'not\tin'];

const VALUES = [
  '2.7',
  '3',
  '3.6',
  '3.6.0',
  '3.13',
  '3.13.0',
  '3.13.0+local',
  '3.*',
  '3.6.*',
  '2.7.18',
  '3.13.0rc1',
  '3.13.0+',
  '10',
  '5.15',
  '23',
  'linux',
  'linux2',
  'win32',
  'darwin',
  'cygwin',
  'posix',
  'nt',
  'cpython',
  'CPython',
  'PyPy',
  'Linux',
  'Windows',
  'Darwin',
  'x86_64',
  'arm64',
  'AMD64',
  'test',
  'Test',
  'Foo_Bar',
  'foo.bar',
  'security',
  '',
  ' 3.6',
  'a b',
  'v3.6',
  '3.6 ',
  '\\x41',
  '\\n',
  '\\\\',
  '\\u00e9',
  '\\N{BULLET}',
  '\\x4',
  '\\101',
  '\\q',
  'é',
  'python_version',
  'extra',
  '1.0.post1',
  '3.6.dev0',
];

const VERSIONS = [
  '1.0',
  '1',
  '1.0.0',
  '2.0.1',
  '0.9',
  '1.0a1',
  '1.0b2',
  '1.0rc1',
  '1.0c1',
  '1.0.post1',
  '1.0-1',
  '1.0.dev0',
  '1.0.post1.dev2',
  '1!1.0',
  '1.0+local',
  '1.0+local.7',
  'v1.0',
  '1.0RC1',
  '1.0.*',
  '1.*',
  '1.0a1.*',
  '2012.10',
  '1.0alpha',
  '1.0-beta.2',
  '1.0_rc_3',
  '1.0preview',
  '1.0pre',
  '1.0r',
  '1.0rev3',
  'dev',
  'abc',
  '1.0.*.0',
  '1.0+',
  '1..0',
  '',
  '00.01',
  '1.0.0.0.0',
];

const SPEC_OPS = ['==', '!=', '<=', '>=', '<', '>', '~=', '===', '=', '=>', '<>', '~'];

const URLS = [
  'https://example.com/pkg-1.0.tar.gz',
  'git+https://github.com/org/repo.git@v1.0#egg=pkg',
  'file:///tmp/pkg.whl',
  'https://example.com/x;y',
  'http://x',
  '/local/path',
  'https://example.com/a b',
];

function ws(r: Rng): string {
  return r.pick(['', '', '', ' ', '  ', '\t', ' \t ']);
}

function quote(r: Rng, value: string): string {
  if (value.includes("'")) return `"${value}"`;
  if (value.includes('"')) return `'${value}'`;
  return r.chance(0.5) ? `"${value}"` : `'${value}'`;
}

function markerOperand(r: Rng): string {
  return r.chance(0.5) ? r.pick(VARIABLES) : quote(r, r.pick(VALUES));
}

function markerItem(r: Rng): string {
  const variable = r.pick(VARIABLES);
  const value = quote(r, r.pick(VALUES));
  const op = r.pick(MARKER_OPS);
  const sep = () => (op.match(/^[a-z]/) ? r.pick([' ', '  ', '\t']) : ws(r));
  if (r.chance(0.1)) return `${markerOperand(r)}${sep()}${op}${sep()}${markerOperand(r)}`;
  return r.chance(0.8)
    ? `${variable}${sep()}${op}${sep()}${value}`
    : `${value}${sep()}${op}${sep()}${variable}`;
}

/** A random marker expression, with `and`/`or`, parentheses and whitespace variants. */
export function genMarker(r: Rng, depth = 0): string {
  const n = depth > 2 ? 1 : 1 + r.int(3);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) parts.push(r.pick([' and ', ' or ', ' and ', '\tor\t', ' and  ']));
    if (r.chance(depth > 2 ? 0 : 0.25)) parts.push(`(${ws(r)}${genMarker(r, depth + 1)}${ws(r)})`);
    else parts.push(markerItem(r));
  }
  return parts.join('');
}

function genSpecifierClause(r: Rng): string {
  const op = r.chance(0.93) ? r.pick(SPEC_OPS.slice(0, 8)) : r.pick(SPEC_OPS);
  return `${op}${ws(r)}${r.pick(VERSIONS)}`;
}

export function genSpecifierSet(r: Rng): string {
  const n = 1 + r.int(3);
  return Array.from({ length: n }, () => genSpecifierClause(r)).join(`${ws(r)},${ws(r)}`);
}

function genExtras(r: Rng): string {
  if (r.chance(0.6)) return '';
  const names = Array.from({ length: r.int(4) }, () =>
    r.pick(['test', 'Security', 'socks', 'foo_bar', 'a.b', 'test', '9x', 'x-']),
  );
  return `${ws(r)}[${ws(r)}${names.join(`${ws(r)},${ws(r)}`)}${ws(r)}]`;
}

/** A random requirement in one of the forms PyPI metadata contains. */
export function genRequirement(r: Rng): string {
  const name = r.pick(NAMES);
  const extras = genExtras(r);
  let body: string;
  const form = r.int(6);
  if (form === 0) body = '';
  else if (form === 1) body = `${ws(r)}(${ws(r)}${genSpecifierSet(r)}${ws(r)})`;
  else if (form === 2) body = `${r.pick([' ', ' ', '\t'])}@${ws(r)}${r.pick(URLS)}`;
  else body = `${ws(r)}${genSpecifierSet(r)}`;
  const marker = r.chance(0.55)
    ? `${form === 2 ? r.pick([' ', ' ', '']) : ws(r)};${ws(r)}${genMarker(r)}${ws(r)}`
    : '';
  return `${ws(r)}${name}${extras}${body}${marker}${r.chance(0.05) ? '\n' : ''}`;
}

const MUTATION_CHARS = Array.from('()[];,@\'" \t<>=!~.*+-_\\\nabcdefinorvVxX0123456789éſK\u00a0\u3000');

/** Deletes, inserts, duplicates or truncates a little of a string. */
export function mutate(r: Rng, s: string): string {
  let out = s;
  for (let n = 1 + r.int(3); n > 0; n--) {
    const i = r.int(out.length + 1);
    switch (r.int(5)) {
      case 0:
        out = out.slice(0, i) + out.slice(i + 1);
        break;
      case 1:
        out = out.slice(0, i) + r.pick(MUTATION_CHARS) + out.slice(i);
        break;
      case 2: {
        const j = i + r.int(6);
        out = out.slice(0, j) + out.slice(i, j) + out.slice(j);
        break;
      }
      case 3:
        out = out.slice(0, i);
        break;
      default: {
        const j = r.int(out.length + 1);
        const [a, b] = i < j ? [i, j] : [j, i];
        out = out.slice(0, a) + out.slice(b) + out.slice(a, b);
      }
    }
  }
  return out;
}

/** Versions around a specifier's version: pre, post, dev, local, epoch and neighbour releases. */
export function genVersion(r: Rng): string {
  const release = Array.from({ length: 1 + r.int(4) }, () => String(r.pick([0, 0, 1, 1, 2, 3, 9, 10, 2024])));
  let v = (r.chance(0.05) ? `${r.int(3)}!` : '') + release.join('.');
  if (r.chance(0.25))
    v += r.pick(['a', 'b', 'rc', 'c', 'alpha', '.beta', '-pre', 'preview']) + (r.chance(0.8) ? r.int(4) : '');
  if (r.chance(0.2)) v += r.pick(['.post', '-', '.r', 'rev', '_post']) + r.int(4);
  if (r.chance(0.2)) v += r.pick(['.dev', 'dev', '-dev']) + (r.chance(0.8) ? r.int(4) : '');
  if (r.chance(0.15)) v += `+${r.pick(['local', 'ubuntu.1', 'abc-2', '1e5', '0x10', 'Infinity', '07'])}`;
  if (r.chance(0.05)) v = r.pick(['v', 'V', ' ', '\t']) + v + r.pick(['', ' ', '\n']);
  if (r.chance(0.03)) v = mutate(r, v);
  return v;
}
