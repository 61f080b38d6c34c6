import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PypiServer, startPypiServer } from '../src/index';
import { FIXTURES, fixture, PYTHON, sha256 } from './helpers';

// A real installer as the client: pip resolves through the Simple API (it asks for PEP 691
// JSON), checks requires-python and yanks, fetches PEP 658 .metadata files, and verifies the
// sha256 of every download.

const run = promisify(execFile);
let server: PypiServer;
let synthetic: PypiServer;
const dirs: string[] = [];

beforeAll(async () => {
  [server, synthetic] = await Promise.all([
    startPypiServer({ dir: FIXTURES }),
    startPypiServer({ synthetic: 'projects=50,files-per-project=4,seed=11' }),
  ]);
});
afterAll(async () => {
  await Promise.all([server.close(), synthetic.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function pipDownload(
  indexUrl: string,
  args: string[],
): Promise<{ ok: boolean; files: string[]; output: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pip-download-'));
  dirs.push(dir);
  try {
    const { stdout, stderr } = await run(
      PYTHON,
      [
        '-m',
        'pip',
        '--isolated',
        'download',
        '--no-deps',
        '--no-cache-dir',
        '--disable-pip-version-check',
        '--only-binary',
        ':all:',
        '--index-url',
        `${indexUrl}/simple/`,
        '-d',
        dir,
        ...args,
      ],
      { timeout: 60_000 },
    );
    return { ok: true, files: readdirSync(dir).sort(), output: stdout + stderr, dir };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, files: readdirSync(dir).sort(), output: `${e.stdout ?? ''}${e.stderr ?? ''}`, dir };
  }
}

describe('pip download', () => {
  it('downloads the latest compatible wheels, through .metadata files, with verified hashes', async () => {
    const r = await pipDownload(server.url, ['Django-Like', 'acme.interface', 'Foo_Bar', 'setuptools']);
    expect(r.output).toContain('Successfully downloaded');
    expect(r.files).toEqual([
      'Django_Like-4.0-py3-none-any.whl',
      'Foo_Bar-0.2-py2.py3-none-any.whl',
      'acme_interface-1.1-py3-none-any.whl',
      'setuptools-66.1.1-py3-none-any.whl',
    ]);
    for (const f of r.files) expect(sha256(readFileSync(join(r.dir, f))), f).toBe(sha256(fixture(f)));
    expect(r.output).toMatch(/\.whl\.metadata/);
    const metadataFetches = server.requestLog.filter((q) => q.route === 'metadata' && q.status === 200);
    expect(metadataFetches.length).toBeGreaterThanOrEqual(4);
  });

  it('honours yanks: a yanked file only when pinned exactly', async () => {
    const unpinned = await pipDownload(server.url, ['yanky']);
    expect(unpinned.ok).toBe(false);
    expect(unpinned.files).toEqual([]);
    const pinned = await pipDownload(server.url, ['yanky==1.1']);
    expect(pinned.ok).toBe(true);
    expect(pinned.files).toEqual(['yanky-1.1-py3-none-any.whl']);
    expect(pinned.output).toContain('yanked');
  });

  it('honours data-requires-python', async () => {
    const old = await pipDownload(server.url, ['--python-version', '3.6', 'acme.interface']);
    expect(old.ok).toBe(false);
    const newer = await pipDownload(server.url, ['--python-version', '3.11', 'acme.interface']);
    expect(newer.files).toEqual(['acme_interface-1.1-py3-none-any.whl']);
  });

  it('refuses a file whose bytes do not match the advertised sha256', async () => {
    server.setFaults([{ match: 'Foo_Bar-0\\.2-py2\\.py3-none-any\\.whl$', kind: 'wrong-bytes' }]);
    try {
      const r = await pipDownload(server.url, ['Foo_Bar']);
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES/);
    } finally {
      server.clearFaults();
    }
  });

  it('installs from the synthetic index too', async () => {
    const project = synthetic.index.projectList.find((p) =>
      p.releases.some(
        (r) => !r.yanked && r.prerelease === false && r.files.some((f) => f.pythonVersion === 'py3'),
      ),
    )!;
    const r = await pipDownload(synthetic.url, ['--python-version', '3.11', project.name]);
    expect(r.ok, r.output).toBe(true);
    expect(r.files).toHaveLength(1);
    expect(r.files[0]!.endsWith('.whl')).toBe(true);
  });
});
