// Each workspace package declares exactly what its sources import (issue 13 §6): no dependency
// that nothing imports, no import of a package it does not declare (which works only by
// accident of pnpm's hoisting or the workspace root), and no import of another package's
// internal file (only its entry point, `@pypi-graph/<name>`): a test reaches what the tests share
// through `@pypi-graph/test-support`, like any other package, and never by a path into it.
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

/**
 * Relative imports of `file` that leave its own unit (a workspace package, or the root: test/ and
 * scripts/), and imports of a package's file by a path under its name: a test or a script
 * reaches another package only through its entry point, `@pypi-graph/<name>`.
 */
function crossingImports(file: string, source: string): string[] {
  const unitOf = (p: string) => {
    const rel = path.relative(PACKAGES, p);
    return rel.startsWith('..') ? '(root)' : rel.split(path.sep)[0];
  };
  const own = unitOf(file);
  const out: string[] = [];
  for (const m of source.matchAll(
    /\bfrom\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s*['"]([^'"]+)['"]/g,
  )) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    const crosses = spec.startsWith('.')
      ? unitOf(path.resolve(path.dirname(file), spec)) !== own
      : /^@pypi-graph\/[^/]+\/.+/.test(spec);
    if (crosses) out.push(`${path.relative(ROOT, file)}: ${spec}`);
  }
  return out;
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
    const files = [
      ...sourceFiles(PACKAGES).filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`)),
      ...sourceFiles(path.join(ROOT, 'test')).filter(
        // This file's examples below are strings, not imports.
        (f) => !f.includes(`${path.sep}fixtures${path.sep}`) && f !== import.meta.filename,
      ),
      ...sourceFiles(path.join(ROOT, 'scripts')),
    ];
    expect(files.filter((f) => f.includes(`${path.sep}test-support${path.sep}`)).length).toBeGreaterThan(0);
    expect(files.flatMap((f) => crossingImports(f, readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('catches an import that reaches into another package or out of its own', () => {
    const at = (file: string, line: string) => crossingImports(path.join(ROOT, file), line);
    // Another package's internals, from a package's test, from test/ or from scripts/.
    expect(at('packages/db/test/x.test.ts', "import { a } from '../../pipeline/src/queues';")).toHaveLength(
      1,
    );
    expect(
      at('test/e2e/x.test.ts', "import { a } from '../../packages/test-support/src/services';"),
    ).toHaveLength(1);
    expect(at('scripts/bench/x.ts', "export { a } from '../../packages/db/src/schema';")).toHaveLength(1);
    expect(at('test/e2e/x.test.ts', "const m = await import('../../packages/cli/src/app');")).toHaveLength(1);
    expect(at('test/e2e/x.test.ts', "import '../../packages/cli/src/app';")).toHaveLength(1);
    expect(
      at('test/e2e/x.test.ts', "import { a } from '@pypi-graph/test-support/src/services';"),
    ).toHaveLength(1);
    // Out of its own package into the root (a support file of test/ or scripts/).
    expect(
      at('packages/db/test/x.test.ts', "import { a } from '../../../test/support/services';"),
    ).toHaveLength(1);
    expect(at('packages/db/src/x.ts', "import { a } from '../../../scripts/bench/common';")).toHaveLength(1);
    // Its own package's files, root files from the root, and any package by its name: allowed.
    expect(at('packages/db/test/x.test.ts', "import { a } from '../src';")).toEqual([]);
    expect(at('packages/db/src/a/x.ts', "import { a } from '../schema';")).toEqual([]);
    expect(at('test/e2e/x.test.ts', "import { a } from '../oracle/x';")).toEqual([]);
    expect(at('test/e2e/x.test.ts', "import { a } from '@pypi-graph/test-support';")).toEqual([]);
  });

  it("test-support is imported by tests only, never by a package's src/ or by scripts/", () => {
    const files = [
      ...packages
        .filter((n) => n !== 'test-support')
        .flatMap((n) => sourceFiles(path.join(PACKAGES, n, 'src'))),
      ...sourceFiles(path.join(ROOT, 'scripts')),
    ];
    const offenders = files.filter((f) =>
      importedPackages(readFileSync(f, 'utf8')).includes('@pypi-graph/test-support'),
    );
    expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
  });
});
