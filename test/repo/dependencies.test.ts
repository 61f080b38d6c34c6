// Each workspace package declares exactly what its sources import (issue 13 §6): no dependency
// that nothing imports, no import of a package it does not declare (which works only by
// accident of pnpm's hoisting or the workspace root), and no import of another package's
// internal file (only its entry point, `@pypi-graph/<name>`).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PACKAGES = path.join(ROOT, 'packages');

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(sourceFiles(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** Package names a file imports (static, dynamic and type imports; `export … from` too). */
function importedPackages(source: string): string[] {
  const specs = new Set<string>();
  for (const m of source.matchAll(/(?:^|[\s;])(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g))
    specs.add(m[1]!);
  for (const m of source.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) specs.add(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.add(m[1]!);
  const names = new Set<string>();
  for (const s of specs) {
    if (s.startsWith('.') || s.startsWith('node:') || builtinModules.includes(s.split('/')[0]!)) continue;
    names.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
  }
  return [...names];
}

const packages = readdirSync(PACKAGES).filter((n) =>
  statSync(path.join(PACKAGES, n, 'package.json'), { throwIfNoEntry: false }),
);

describe('workspace package dependencies', () => {
  it('reads imports the way the check relies on', () => {
    expect(
      importedPackages(
        [
          "import { a } from '@x/y';",
          "import type { B } from '@x/z/sub';",
          "import 'side-effect';",
          "export { c } from 'lib/deep';",
          "const d = await import('dyn');",
          "import fs from 'node:fs';",
          "import path from 'path';",
          "import { e } from './local';",
        ].join('\n'),
      ).sort(),
    ).toEqual(['@x/y', '@x/z', 'dyn', 'lib', 'side-effect']);
  });

  for (const name of packages) {
    it(`${name}: declares what src/ imports, and nothing more`, () => {
      const dir = path.join(PACKAGES, name);
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name: string;
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };
      const declared = new Set(Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }));
      const imported = new Set(
        sourceFiles(path.join(dir, 'src')).flatMap((f) => importedPackages(readFileSync(f, 'utf8'))),
      );
      imported.delete(pkg.name);
      // Types of a dependency come with it, or from its @types package (declared in dev).
      const undeclared = [...imported].filter((d) => !declared.has(d)).sort();
      const unused = [...declared].filter((d) => !imported.has(d) && !d.startsWith('@types/')).sort();
      expect({ undeclared, unused }).toEqual({ undeclared: [], unused: [] });
    });
  }

  it('one zip reader: no package declares or imports a zip library (packages/archive reads every zip)', () => {
    // packages/archive is the product's zip reader (docs/architecture.md §8, "One zip reader");
    // yauzl is only the baseline of `pnpm bench zip`.
    const ZIP_LIBRARIES = ['yauzl', 'adm-zip', 'jszip', 'unzipper', 'node-stream-zip', 'extract-zip', 'yazl'];
    const offenders: string[] = [];
    for (const name of packages) {
      const dir = path.join(PACKAGES, name);
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
      for (const dep of Object.keys(pkg.dependencies ?? {}))
        if (ZIP_LIBRARIES.includes(dep)) offenders.push(`${name}/package.json: ${dep}`);
      for (const f of sourceFiles(path.join(dir, 'src'))) {
        for (const lib of importedPackages(readFileSync(f, 'utf8')))
          if (ZIP_LIBRARIES.includes(lib)) offenders.push(`${path.relative(ROOT, f)}: ${lib}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("no source or test imports another package's internal file", () => {
    const offenders: string[] = [];
    const files = [
      ...sourceFiles(PACKAGES).filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`)),
      ...sourceFiles(path.join(ROOT, 'test')).filter((f) => !f.includes(`${path.sep}fixtures${path.sep}`)),
      ...sourceFiles(path.join(ROOT, 'scripts')),
    ];
    for (const f of files) {
      const own = path.relative(PACKAGES, f).split(path.sep)[0];
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\bfrom\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2]!;
        if (/^@pypi-graph\/[^/]+\/.+/.test(spec)) offenders.push(`${path.relative(ROOT, f)}: ${spec}`);
        if (spec.startsWith('.')) {
          const target = path.relative(PACKAGES, path.resolve(path.dirname(f), spec));
          const targetPkg = target.startsWith('..') ? undefined : target.split(path.sep)[0];
          if (targetPkg !== undefined && targetPkg !== own)
            offenders.push(`${path.relative(ROOT, f)}: ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
