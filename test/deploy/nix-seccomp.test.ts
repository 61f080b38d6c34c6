// What Nix's build sandbox needs from Docker, found out with the runtime Docker itself runs
// containers with (runc) instead of a Docker engine, which the machine this was written on lacks.
// Each case runs a real sandboxed nix-build (sandbox = true, sandbox-fallback = false) in a runc
// container made the way Docker makes one: Docker's default capabilities, new pid, ipc, uts,
// mount and network namespaces, and a seccomp filter produced from a Docker-format profile by
// Docker's own rules (includes/excludes by capability, architecture and kernel). The profile is
// docker/seccomp-nix-sandbox.json: Docker's default profile (moby profiles/seccomp/default.json)
// with two rules added at the end; without those two it is Docker's default again.
// Needs root, runc and nix-build (.ci/run installs them); each test fails clearly without them.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PROFILE = path.resolve('docker/seccomp-nix-sandbox.json');

// Docker's default capability set (moby oci/caps/defaults.go).
const DOCKER_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
// What Docker masks and makes read-only in /proc and /sys unless `systempaths=unconfined`.
const DOCKER_MASKED = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const DOCKER_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

interface Rule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: unknown[];
  comment?: string;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}
interface DockerProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap: { architecture: string; subArchitectures: string[] | null }[];
  syscalls: Rule[];
}

function kernelAtLeast(min: string): boolean {
  const [a = 0, b = 0] = release().split(/[.-]/).map(Number);
  const [x = 0, y = 0] = min.split('.').map(Number);
  return a > x || (a === x && b >= y);
}

/** The OCI seccomp config Docker derives from a profile for a container with `caps` on amd64. */
function ociSeccomp(profile: DockerProfile, caps: string[]) {
  const arch = 'amd64';
  const native = profile.archMap.find((a) => a.architecture === 'SCMP_ARCH_X86_64')!;
  const syscalls = profile.syscalls
    .filter((r) => {
      const inc = r.includes ?? {};
      const exc = r.excludes ?? {};
      if (inc.caps && !inc.caps.every((c) => caps.includes(c))) return false;
      if (inc.arches && !inc.arches.includes(arch)) return false;
      if (inc.minKernel && !kernelAtLeast(inc.minKernel)) return false;
      if (exc.caps?.some((c) => caps.includes(c))) return false;
      if (exc.arches?.includes(arch)) return false;
      return true;
    })
    .map((r) => ({
      names: r.names,
      action: r.action,
      ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
      ...(r.args ? { args: r.args } : {}),
    }));
  return {
    defaultAction: profile.defaultAction,
    defaultErrnoRet: profile.defaultErrnoRet,
    architectures: [native.architecture, ...(native.subArchitectures ?? [])],
    syscalls,
  };
}

let work: string;
let profile: DockerProfile;
let ours: Rule[];

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'nix-seccomp-'));
  profile = JSON.parse(await readFile(PROFILE, 'utf8')) as DockerProfile;
  ours = profile.syscalls.filter((r) => r.comment?.startsWith('pypi-graph:'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Case {
  seccomp: DockerProfile;
  masked: boolean;
}

/** A sandboxed nix-build of a fresh trivial derivation in a runc container; status and output. */
async function nixBuildInContainer(
  name: string,
  c: Case,
): Promise<{ status: number | null; output: string }> {
  for (const [cmd, args] of [
    ['runc', ['--version']],
    ['nix-build', ['--version']],
  ] as const) {
    const probe = spawnSync(cmd, [...args], { stdio: 'ignore' });
    if (probe.status !== 0) throw new Error(`${cmd} is needed (apt-get install -y runc nix-bin)`);
  }
  if (process.getuid?.() !== 0) throw new Error('runc containers need root');
  const bundle = path.join(work, name);
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['usr', 'etc', 'nix', 'proc', 'dev', 'sys', 'tmp', 'root']) {
    await mkdir(path.join(rootfs, d), { recursive: true });
  }
  // Debian's merged /usr: the top-level directories are links into it.
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) await symlink(`usr/${l}`, path.join(rootfs, l));
  const nonce = `${name}-${Date.now()}-${process.pid}`;
  const expr = `derivation { name = "pypi-graph-seccomp-probe"; system = builtins.currentSystem; builder = "builtin:buildenv"; manifest = "/dev/null"; derivations = ""; nonce = "${nonce}"; }`;
  const bind = (dir: string, ro: boolean) => ({
    destination: dir,
    type: 'bind',
    source: dir,
    options: ['rbind', ro ? 'ro' : 'rw', 'nosuid'],
  });
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [
        'nix-build',
        '--no-out-link',
        '--option',
        'sandbox',
        'true',
        '--option',
        'sandbox-fallback',
        'false',
        '--option',
        'substituters',
        '',
        '-E',
        expr,
      ],
      env: ['PATH=/usr/bin:/usr/sbin', 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS },
      noNewPrivileges: false,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'sdist-worker',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
      bind('/usr', true),
      bind('/etc', true),
      bind('/nix', false),
    ],
    linux: {
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
      maskedPaths: c.masked ? DOCKER_MASKED : [],
      readonlyPaths: c.masked ? DOCKER_READONLY : [],
      seccomp: ociSeccomp(c.seccomp, DOCKER_CAPS),
    },
  };
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  const res = spawnSync('runc', ['--root', path.join(work, 'state'), 'run', '--bundle', bundle, nonce], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

describe("Nix's build sandbox in a container confined as Docker confines one", () => {
  it("the profile is Docker's default plus one rule of pypi-graph, last", () => {
    expect(ours.map((r) => r.names)).toEqual([
      ['clone', 'unshare', 'mount', 'umount2', 'pivot_root', 'sethostname', 'setdomainname'],
    ]);
    expect(profile.syscalls.slice(-1)).toEqual(ours);
    expect(ours[0]).not.toHaveProperty('args');
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    // Nothing of Docker's default is loosened: keyctl, bpf, ptrace, … stay out of reach.
    const always = profile.syscalls
      .filter((r) => !r.includes && !r.excludes && !r.args)
      .flatMap((r) => r.names);
    for (const name of [
      'keyctl',
      'add_key',
      'request_key',
      'bpf',
      'ptrace',
      'kexec_load',
      'open_by_handle_at',
      'setns',
    ]) {
      expect(always, name).not.toContain(name);
    }
  });

  it("fails under Docker's default profile (what `seccomp=unconfined` was for)", async () => {
    const docker = { ...profile, syscalls: profile.syscalls.filter((r) => !ours.includes(r)) };
    const res = await nixBuildInContainer('default', { seccomp: docker, masked: false });
    expect(res.status, res.output).not.toBe(0);
    expect(res.output).toMatch(/cloning builder process: .*Operation not permitted/);
  });

  it("builds under docker/seccomp-nix-sandbox.json with only Docker's default capabilities", async () => {
    const res = await nixBuildInContainer('ours', { seccomp: profile, masked: false });
    expect(res.status, res.output).toBe(0);
    expect(res.output).toMatch(/\/nix\/store\/[a-z0-9]{32}-pypi-graph-seccomp-probe/);
  });

  it('needs every system call of that rule: without any one of them, no build', async () => {
    for (const name of ours[0]!.names) {
      const rule = { ...ours[0]!, names: ours[0]!.names.filter((n) => n !== name) };
      const less = { ...profile, syscalls: [...profile.syscalls.slice(0, -1), rule] };
      const res = await nixBuildInContainer(`without-${name}`, { seccomp: less, masked: false });
      expect(res.status, `${name}: ${res.output}`).not.toBe(0);
    }
  });

  it("still needs Docker's /proc masks lifted (systempaths=unconfined)", async () => {
    const res = await nixBuildInContainer('masked', { seccomp: profile, masked: true });
    expect(res.status, res.output).not.toBe(0);
    expect(res.output).toMatch(/mounting \/proc: Operation not permitted/);
  });
});
