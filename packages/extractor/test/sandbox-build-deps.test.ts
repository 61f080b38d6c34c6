import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasNix } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildWheelFile, runSandbox, type SandboxResult } from '../src';
import { makeSdist } from './make-sdist';

// Build dependencies in the sandbox (issue 11 §2): wheels given per Python key enter the store by
// their sha256 and are unpacked onto that interpreter's sys.path, where they run exactly like
// setup.py: a hostile one is contained the same way. The wheels are made here (a setup() keyword
// plugin, written for this test), the sdist from test/fixtures/sandbox/uses-plugin.

const NIX = hasNix();
const SALT = randomBytes(8).toString('hex');
let work: string;

// Each attempt is reported as a requirement name, so it reaches result.json like any dependency.
const OBSERVER = `
import os, socket

def hook(dist, attr, value):
    seen = []
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        seen.append("net-open")
    except Exception:
        seen.append("net-refused")
    try:
        open("/nix/store/pypi-graph-plugin-was-here", "w").close()
        seen.append("store-writable")
    except Exception:
        seen.append("store-readonly")
    seen.append("salt-%s" % SALT)
    dist.install_requires = seen
`;

const DAEMON = `
import os, time

def hook(dist, attr, value):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for _ in range(600):
                time.sleep(1)
        os._exit(0)
    time.sleep(0.5)
    dist.install_requires = ["left-a-daemon"]
`;

/** A pure-Python wheel of one module registering the `observe` setup() keyword. */
function makeWheel(name: string, source: string): BuildWheelFile {
  const filename = `${name}-1.0-py2.py3-none-any.whl`;
  const file = path.join(work, filename);
  const script = `
import sys, zipfile
name, path, source = sys.argv[1:4]
with zipfile.ZipFile(path, "w") as z:
    z.writestr(name + ".py", source)
    z.writestr(name + "-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: %s\\nVersion: 1.0\\n" % name)
    z.writestr(name + "-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py2.py3-none-any\\n")
    z.writestr(name + "-1.0.dist-info/entry_points.txt", "[distutils.setup_keywords]\\nobserve = %s:hook\\n" % name)
    z.writestr(name + "-1.0.dist-info/RECORD", "")
`;
  execFileSync('python3', ['-c', script, name, file, source.replace('%s" % SALT', `%s" % "${SALT}"`)]);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { path: file, sha256, filename };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'sandbox-build-deps-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function ok(r: SandboxResult | undefined) {
  if (!r || !('ok' in r)) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.ok;
}

describe.skipIf(!NIX)('build dependencies in the sandbox', () => {
  it('puts the wheels of a key on its interpreter only; the plugin has no network and a read-only store', async () => {
    const sdist = await makeSdist(work, 'uses-plugin', SALT);
    const observer = makeWheel('observer', OBSERVER);
    const { results } = await runSandbox({
      sdistPath: sdist.file,
      sha256: sdist.sha256,
      filename: sdist.filename,
      pythons: ['27', '311', '313'],
      buildWheels: { '27': [observer], '313': [observer] },
    });
    for (const key of ['27', '313'] as const) {
      expect(ok(results[key]).install_requires, key).toEqual([
        'net-refused',
        'store-readonly',
        `salt-${SALT}`,
      ]);
    }
    // 3.11 was given no wheel: setuptools does not know the keyword, and nothing fills install_requires
    expect(ok(results['311']).install_requires).toEqual([]);
    expect(ok(results['311']).setup_requires).toEqual(['observer']);
  });

  it('contains a build dependency that leaves a daemon behind, as it contains setup.py', async () => {
    const sdist = await makeSdist(work, 'uses-plugin', `${SALT}-daemon`, 'uses-plugin-daemon');
    const daemon = makeWheel('daemonic', DAEMON);
    const started = performance.now();
    const { results } = await runSandbox({
      sdistPath: sdist.file,
      sha256: sdist.sha256,
      filename: sdist.filename,
      pythons: ['27', '313'],
      buildWheels: { '27': [daemon], '313': [daemon] },
    });
    for (const key of ['27', '313'] as const) {
      expect(results[key], key).toMatchObject({
        error: { code: 'sandbox-process-escaped', log: '1 process(es) outlived setup.py and were killed' },
      });
    }
    expect(performance.now() - started).toBeLessThan(60_000);
    const ps = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' });
    expect(ps).not.toContain('uses-plugin-daemon-1.0');
  });

  it('refuses a wheel whose bytes are not the sha256 the index published: nothing is built', async () => {
    const sdist = await makeSdist(work, 'uses-plugin', `${SALT}-sha`, 'uses-plugin-sha');
    const observer = makeWheel('observer', OBSERVER);
    const forged = { ...observer, sha256: createHash('sha256').update('something else').digest('hex') };
    await expect(
      runSandbox({
        sdistPath: sdist.file,
        sha256: sdist.sha256,
        filename: sdist.filename,
        pythons: ['313'],
        buildWheels: { '313': [forged] },
      }),
    ).rejects.toMatchObject({ code: 'download-sha256-mismatch' });
  });
});
