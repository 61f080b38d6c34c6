// OPT-IN (PYPI_GRAPH_REAL_WHEELS=1; skipped otherwise, and a skipped test is not a passing one):
// build dependencies from the crawled index with REAL build backends (issue 11 §2). The real
// wheels of hatchling, hatch-vcs, setuptools-scm and their dependencies come from this machine's
// local package index (the one `pip config list` names: /opt/pypi/simple), are served by our
// local PyPI server, crawled first, and then a real-shaped sdist (written here: hatchling with a
// custom metadata hook reading requirements.txt, its version from hatch-vcs) is crawled: its
// dependencies come from hatchling's own prepare_metadata_for_build_wheel in the sandbox.
// Nothing third-party is committed: the wheels are copied at test time.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crawl } from '@pypi-graph/cli';
import { projectDependencies } from '@pypi-graph/db';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { crawlEnv } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLocalWheels, LOCAL_SIMPLE, REAL_BUILD_TOOLS } from '../../scripts/bench/local-index';

const ENABLED = process.env.PYPI_GRAPH_REAL_WHEELS === '1' && existsSync(LOCAL_SIMPLE);
if (!ENABLED)
  console.warn('OPT-IN real build backends skipped: set PYPI_GRAPH_REAL_WHEELS=1 (needs /opt/pypi)');

const PYPROJECT = `[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "vcs-demo"
dynamic = ["version", "dependencies"]
requires-python = ">=3.8"

[tool.hatch.version]
source = "vcs"

[tool.hatch.metadata.hooks.custom]
`;

// hatch-requirements-txt's shape: the dependencies come from requirements.txt at build time
const HATCH_BUILD = `from hatchling.metadata.plugin.interface import MetadataHookInterface


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata):
        with open("requirements.txt", encoding="utf-8") as handle:
            lines = [line.split("#", 1)[0].strip() for line in handle]
        metadata["dependencies"] = [line for line in lines if line]
`;

let server: PypiServer;
let folder: string;
let copied = new Map<string, string>();

beforeAll(async () => {
  if (!ENABLED) return;
  folder = await mkdtemp(path.join(tmpdir(), 'build-deps-real-'));
  copied = await copyLocalWheels(REAL_BUILD_TOOLS, folder);
  const script = `
import io, sys, tarfile
out, pyproject, hatch_build = sys.argv[1:4]
root = "vcs_demo-1.2.3"
files = {
    "PKG-INFO": "Metadata-Version: 2.1\\nName: vcs-demo\\nVersion: 1.2.3\\n",
    "pyproject.toml": pyproject,
    "hatch_build.py": hatch_build,
    "requirements.txt": "requests>=2.31\\n# docs\\nclick>=8; python_version >= '3.8'\\n",
    "vcs_demo/__init__.py": "",
}
with tarfile.open(out, "w:gz") as tar:
    for name in sorted(files):
        data = files[name].encode()
        info = tarfile.TarInfo(root + "/" + name)
        info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
        tar.addfile(info, io.BytesIO(data))
`;
  execFileSync('python3', ['-c', script, path.join(folder, 'vcs_demo-1.2.3.tar.gz'), PYPROJECT, HATCH_BUILD]);
  server = await startPypiServer({ dir: folder });
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe.skipIf(!ENABLED)('OPT-IN: real build backends from the crawled index', () => {
  it('runs hatchling with hatch-vcs and a metadata hook, with the wheels the index has', async () => {
    const env = await crawlEnv(server.url, 'postgres', 'embedded', { SDIST_EXTRACTION: 'sandbox' });
    try {
      await crawl(env.app, { project: REAL_BUILD_TOOLS });
      await crawl(env.app, { project: ['vcs-demo'] });
      const [demo] = await projectDependencies(env.app.db, 'vcs-demo');
      const byKey = new Map(demo!.extractions.map((e) => [e.pythonKey, e]));
      // hatchling 1.32 needs Python >= 3.10, and under 3.10 tomli, which has no pure wheel here
      for (const key of ['311', '312', '313']) {
        const e = byKey.get(key)!;
        expect([e.method, e.status, e.log], key).toEqual(['pep517', 'ok', null]);
        expect(
          e.requirements.filter((r) => r.kind === 'install').map((r) => r.requirement),
          key,
          // hatchling writes Requires-Dist sorted
        ).toEqual(["click>=8; python_version >= '3.8'", 'requests>=2.31']);
        const used = e.buildProvenance!.build_dependencies;
        expect(e.buildProvenance!.backend).toBe('hatchling.build');
        expect(used.map((d) => d.name).sort()).toEqual(
          [
            'hatch-vcs',
            'hatchling',
            'packaging',
            'pathspec',
            'pluggy',
            'setuptools-scm',
            'tomlkit',
            'trove-classifiers',
            'vcs-versioning',
          ].sort(),
        );
        for (const d of used) {
          const bytes = await readFile(copied.get(d.filename)!);
          expect(createHash('sha256').update(bytes).digest('hex'), d.filename).toBe(d.sha256);
        }
      }
      for (const key of ['27', '36', '37', '38', '39']) {
        const e = byKey.get(key)!;
        expect([e.status, e.failureCode], key).toEqual(['failed', 'missing-build-dependency']);
        expect(e.log, key).toMatch(/hatchling/);
      }
      expect(byKey.get('310')?.log).toMatch(/tomli/);
    } finally {
      await env.cleanup();
    }
  }, 900_000);
});
