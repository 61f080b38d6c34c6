// Fail closed (issue 10 §1): the probe proves the sandbox of the nix-build on PATH before any
// setup.py runs, and every way this machine's real Nix can be made to build without a sandbox is
// caused here for real, locally (a wrapper on PATH, a seccomp filter on one process), never by a
// host-wide setting: each ends as `sandbox-unavailable` with nothing of the sdist run.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { NO_NAMESPACES_PY } from '@pypi-graph/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_CHECKS, probeSandbox, runSandbox, SandboxGate, type SandboxVerdict } from '../src';

const PATH = process.env.PATH ?? '/usr/bin:/bin';

function which(command: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

let work: string;
let nixBuild: string;
let nixStore: string;
/** A host file that setup.py writes when it runs outside the sandbox (inside, /tmp is the build's own). */
let escapeFile: string;
let sdist: { file: string; sha256: string; filename: string };

/** Whether something on the host listens on 127.0.0.1:port (the premise of the network check). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** A directory whose `nix-build` is `script` (logging each call's arguments to `calls.log`). */
async function wrapper(
  name: string,
  script: string,
  command = 'nix-build',
): Promise<{ binPath: string; calls: () => Promise<string> }> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  const log = path.join(dir, 'calls.log');
  await writeFile(log, '');
  await writeFile(path.join(dir, command), `#!/bin/sh\necho "$*" >> '${log}'\n${script}\n`);
  await chmod(path.join(dir, command), 0o755);
  return { binPath: `${dir}:${PATH}`, calls: () => readFile(log, 'utf8') };
}

/** An sdist whose setup.py leaves `escapeFile` on the host if it ever runs outside the sandbox. */
async function escapeSdist(): Promise<{ file: string; sha256: string; filename: string }> {
  const top = 'escape-1.0';
  const root = path.join(work, 'escape-src');
  await mkdir(path.join(root, top), { recursive: true });
  await writeFile(
    path.join(root, top, 'setup.py'),
    [
      'from setuptools import setup',
      `open(${JSON.stringify(escapeFile)}, "w").write("setup.py ran outside the sandbox")`,
      "setup(name='escape', version='1.0', install_requires=['ran'])",
      '',
    ].join('\n'),
  );
  await writeFile(path.join(root, top, 'salt.txt'), randomBytes(8).toString('hex'));
  const tar = execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', '-', top], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  const gz = gzipSync(tar);
  const filename = `${top}.tar.gz`;
  const file = path.join(work, filename);
  await writeFile(file, gz);
  return { file, sha256: createHash('sha256').update(gz).digest('hex'), filename };
}

function failed(verdict: SandboxVerdict): Extract<SandboxVerdict, { ok: false }> {
  if (verdict.ok) throw new Error(`expected the probe to fail, it passed: ${JSON.stringify(verdict.checks)}`);
  return verdict;
}

/**
 * Runs the escape sdist through `binPath`'s nix-build: it must end as `sandbox-unavailable`
 * (matching `message`), with nothing of it run on the host and its derivation never built.
 */
async function expectRefused(w: { binPath: string; calls: () => Promise<string> }, message: RegExp) {
  const { file, sha256, filename } = sdist;
  await expect(runSandbox({ sdistPath: file, sha256, filename, binPath: w.binPath })).rejects.toMatchObject({
    code: 'sandbox-unavailable',
    message: expect.stringMatching(message),
  });
  expect(existsSync(escapeFile)).toBe(false);
  const calls = await w.calls();
  expect(calls).toContain('probe.nix');
  expect(calls).not.toContain('extractor.nix');
}

beforeAll(async () => {
  nixBuild = which('nix-build');
  nixStore = which('nix-store');
  if (!nixBuild) {
    throw new Error('these tests need Nix: nix-build is not on PATH (Debian: apt-get install -y nix-bin)');
  }
  work = await mkdtemp(path.join(tmpdir(), 'pypi-graph-probe-test-'));
  escapeFile = path.join(work, `escaped-${randomBytes(6).toString('hex')}`);
  sdist = await escapeSdist();
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the sandbox probe (real Nix)', () => {
  it("proves this machine's nix-build: not root, PID 1, no network, no host path, no host environment", async () => {
    // The premise of the network check: the host's PostgreSQL and Redis do listen on 127.0.0.1.
    expect(await listening(5432)).toBe(true);
    expect(await listening(6379)).toBe(true);
    const verdict = await probeSandbox();
    if (!verdict.ok) throw new Error(`the probe failed on this machine: ${verdict.reason}`);
    expect(Object.keys(verdict.checks).sort()).toEqual([...PROBE_CHECKS].sort());
    expect(verdict.checks.user.detail).toMatch(/^uid [1-9]\d*, euid [1-9]\d*$/);
    expect(verdict.checks.pid.detail).toBe('pid 1');
    expect(verdict.checks.network.detail).toMatch(/^interfaces lo; /);
    expect(verdict.checks.network.detail).toMatch(/127\.0\.0\.1:5432 closed/);
    expect(verdict.checks.network.detail).toMatch(/127\.0\.0\.1:6379 closed/);
    expect(verdict.checks.network.detail).toMatch(/dns pypi\.org failed/);
  });

  it('catches a nix-build that silently passes --option sandbox false', async () => {
    const w = await wrapper('sandbox-false', `exec ${nixBuild} "$@" --option sandbox false`);
    const verdict = failed(await probeSandbox({ binPath: w.binPath }));
    // Unsandboxed, the build user cannot even reach the host interpreters under /root.
    expect(verdict.reason).toMatch(/^Nix could not build in its sandbox: .*Permission denied/);
    await expectRefused(w, /Permission denied/);
  });

  it('catches a nix-build that drops the sandbox and builds as root: nothing of the sdist runs', async () => {
    const w = await wrapper(
      'sandbox-false-root',
      `exec ${nixBuild} "$@" --option sandbox false --option build-users-group ""`,
    );
    const verdict = failed(await probeSandbox({ binPath: w.binPath }));
    expect(verdict.reason).toMatch(/^the build was not sandboxed: /);
    expect(verdict.checks?.user).toMatchObject({ ok: false, detail: 'uid 0, euid 0' });
    expect(verdict.checks?.pid?.ok).toBe(false);
    expect(verdict.checks?.network?.detail).toMatch(/127\.0\.0\.1:5432 open/);
    expect(verdict.checks?.filesystem?.detail).toMatch(/host path \S+\/marker is visible/);

    // The extraction: refused before its derivation is built, so setup.py never ran on the host.
    await expectRefused(w, /the build was not sandboxed/);
  });

  it('catches a Nix whose sandbox cannot start (no namespaces, as in a locked-down container)', async () => {
    const w = await wrapper('no-namespaces', `exec /usr/bin/python3 ${NO_NAMESPACES_PY} ${nixBuild} "$@"`);
    const verdict = failed(await probeSandbox({ binPath: w.binPath }));
    // sandbox-fallback false: Nix stops instead of building without the sandbox.
    expect(verdict.reason).toMatch(/cloning builder process: Operation not permitted/);
    await expectRefused(w, /cloning builder process/);
  });

  it('says that Nix is missing, and how to install it', async () => {
    const empty = path.join(work, 'empty-bin');
    await mkdir(empty, { recursive: true });
    const verdict = failed(await probeSandbox({ binPath: empty }));
    expect(verdict.reason).toBe('Nix is not installed here (nix-build is not on PATH)');
    expect(verdict.hint).toContain('apt-get install -y nix-bin');
  });

  it('stops a build that finds itself outside the sandbox after the probe passed (driver.py)', async () => {
    // The probe passed (a gate proven beforehand), then Nix changed: the driver's own check, on
    // every build, refuses before the sdist is unpacked.
    const gate = new SandboxGate({ prove: async () => ({ ok: true, durationMs: 0, checks: {} as never }) });
    await gate.ensure();
    // extractions build with nix-store --realise (run-sandbox.ts), the probe with nix-build
    const w = await wrapper(
      'changed-after-probe',
      `exec ${nixStore} "$@" --option sandbox false --option build-users-group ""`,
      'nix-store',
    );
    await expect(
      runSandbox({
        sdistPath: sdist.file,
        sha256: sdist.sha256,
        filename: sdist.filename,
        pythons: ['311'],
        binPath: w.binPath,
        gate,
      }),
    ).rejects.toMatchObject({
      code: 'sandbox-unavailable',
      message: expect.stringMatching(/a build ran outside the sandbox: runs as root; pid \d+, not 1/),
    });
    expect(existsSync(escapeFile)).toBe(false);
    expect(await w.calls()).toMatch(/--realise \/nix\/store\/\S+-setup-py-deps\.drv/);
    // ...and the gate no longer counts as proven.
    expect(gate.state.state).toBe('unavailable');
    await expect(gate.ensure()).rejects.toMatchObject({ code: 'sandbox-unavailable' });
  });
});

describe('the sandbox gate', () => {
  it('proves once for concurrent callers, answers from a failure until it is stale, then proves again', async () => {
    let proofs = 0;
    let ok = false;
    const gate = new SandboxGate({
      prove: async () => {
        proofs++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return ok
          ? { ok: true, durationMs: 20, checks: {} as never }
          : { ok: false, durationMs: 20, reason: 'no Nix here', hint: 'install it' };
      },
      recheckMs: 200,
    });
    const seen: string[] = [];
    gate.onChange((s) => seen.push(s.state));
    const all = await Promise.allSettled([gate.ensure(), gate.ensure(), gate.ensure()]);
    expect(proofs).toBe(1);
    for (const r of all) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: 'sandbox-unavailable',
        message: 'no sandbox: no Nix here',
        hint: 'install it',
      });
    }
    ok = true;
    await expect(gate.ensure()).rejects.toMatchObject({ code: 'sandbox-unavailable' });
    expect(proofs).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await gate.ensure();
    expect(proofs).toBe(2);
    await gate.ensure();
    expect(proofs).toBe(2);
    expect(seen).toEqual(['unavailable', 'proven']);
  });
});
