// docker-compose.yml as a real Compose implementation reads it: `docker compose config` when the
// v2 plugin is there, and `docker-compose config` (Debian's docker-compose 1.29.2 in CI,
// `apt-get install -y docker-compose`). Neither needs a Docker engine. Only v2 can run the
// deployment (docs/operations.md, "Docker Compose": the sdist worker's `systempaths=unconfined`);
// 1.29.2 is used here as a parser, to check that the file parses and resolves. Then the
// properties that matter for operating it, on the resolved configuration (anchors merged,
// variables interpolated). Nothing here builds an image or starts a container.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');

interface Healthcheck {
  test?: string[] | string;
  disable?: boolean;
}
interface PortLong {
  host_ip?: string;
  target: number;
  published?: string | number;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  command?: string[] | string;
  container_name?: string;
  ports?: (string | PortLong)[];
  expose?: (string | number)[];
  healthcheck?: Healthcheck;
  restart?: string;
  depends_on?: Record<string, { condition: string }> | string[];
  environment?: Record<string, string | null>;
  security_opt?: string[];
  cap_add?: string[];
  privileged?: boolean;
  volumes?: (string | { type: string; source?: string; target: string })[];
  deploy?: { replicas?: number };
}
interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The secrets an operator must give (no defaults in the file), as the tests give them. */
const SECRETS = {
  POSTGRES_PASSWORD: 'pg-test-secret',
  REDIS_PASSWORD: 'redis-test-secret',
  DASHBOARD_PASSWORD: 'dashboard-test-secret',
};

/** The environment the validators run in: this file's defaults, not the caller's overrides. */
function composeEnv(omit: string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...SECRETS, COMPOSE_PROJECT_NAME: 'pypi-graph-test' };
  for (const name of ['COMPOSE_FILE', 'COMPOSE_PROFILES', 'DASHBOARD_PORT', 'PYPI_GRAPH_TAG', ...omit])
    delete env[name];
  return env;
}

function run(
  command: string,
  args: string[],
  omit: string[] = [],
): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(command, args, {
    cwd: ROOT,
    env: composeEnv(omit),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (res.error && (res.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return { status: null, stdout: '', stderr: `${command}: not found` };
  }
  return { status: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
}

function available(command: string, args: string[]): boolean {
  return run(command, args).status === 0;
}

const hasStandalone = available('docker-compose', ['version']);
const hasPlugin = available('docker', ['compose', 'version']);

function asList(command: string[] | string | undefined): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command : command.split(/\s+/).filter(Boolean);
}

function dependsOn(service: Service): Record<string, { condition: string }> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, { condition: 'service_started' }]));
  return deps;
}

/** Host address of a published port, in the short syntax (1.x) or the long one (v2). */
function hostIps(service: Service): (string | undefined)[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p !== 'string') return p.host_ip;
    const parts = p.split(':');
    return parts.length === 3 ? parts[0] : undefined;
  });
}

/** Services started from the images this repository builds (the pypi-graph processes). */
function appServices(config: ComposeConfig): [string, Service][] {
  return Object.entries(config.services).filter(([, s]) => s.build !== undefined);
}

const MISSING =
  'no Compose implementation to validate docker-compose.yml with: install the Docker Compose v2 ' +
  "plugin (`docker compose`, the one that can also run it) or, only to parse the file, Debian's " +
  '`apt-get install -y docker-compose`; scripts/test.sh installs the latter';

let resolved: ComposeConfig | undefined;
/** The resolved configuration; throws (so every test that needs it fails) without a validator. */
function loadConfig(): ComposeConfig {
  if (resolved) return resolved;
  if (!hasStandalone && !hasPlugin) throw new Error(MISSING);
  const [command, args] = hasStandalone
    ? ['docker-compose', ['-f', COMPOSE_FILE, 'config']]
    : ['docker', ['compose', '-f', COMPOSE_FILE, 'config']];
  const res = run(command, args as string[]);
  if (res.status !== 0) throw new Error(`${command} config failed (${res.status}):\n${res.stderr}`);
  resolved = parse(res.stdout) as ComposeConfig;
  return resolved;
}

describe('docker-compose.yml', () => {
  let config: ComposeConfig;

  beforeEach(() => {
    config = loadConfig();
  });

  it('has a Compose implementation to validate it with', () => {
    expect(hasStandalone || hasPlugin, MISSING).toBe(true);
  });

  it('parses with `docker-compose config -q` (1.29, as a parser) and, with the v2 plugin, `docker compose config -q`', () => {
    const checks: [string, string[]][] = [];
    if (hasStandalone) checks.push(['docker-compose', ['-f', COMPOSE_FILE, 'config', '-q']]);
    if (hasPlugin) checks.push(['docker', ['compose', '-f', COMPOSE_FILE, 'config', '-q']]);
    expect(checks.length, MISSING).toBeGreaterThan(0);
    for (const [command, args] of checks) {
      const res = run(command, args);
      expect(res.status, `${command} ${args.join(' ')}: ${res.stderr}`).toBe(0);
    }
  });

  it('refuses to resolve without each password: no default database, Redis or dashboard password', () => {
    const [command, args] = hasStandalone
      ? ['docker-compose', ['-f', COMPOSE_FILE, 'config', '-q']]
      : ['docker', ['compose', '-f', COMPOSE_FILE, 'config', '-q']];
    for (const name of Object.keys(SECRETS)) {
      const res = run(command, args as string[], [name]);
      expect(res.status, `${name} unset`).not.toBe(0);
      expect(res.stderr, name).toContain(`set ${name} (in .env)`);
    }
    // No password in the file itself: nothing that looks like the old default.
    expect(readFileSync(COMPOSE_FILE, 'utf8')).not.toMatch(/PASSWORD:-/);
  });

  it('has the services of the deployment', () => {
    expect(Object.keys(config.services).sort()).toEqual(
      ['dashboard', 'migrate', 'postgres', 'redis', 'scheduler', 'sdist-worker', 'worker'].sort(),
    );
  });

  it('gives every long-running service a health check', () => {
    for (const [name, service] of Object.entries(config.services)) {
      if (name === 'migrate') continue;
      const test = asList(service.healthcheck?.test);
      expect(test.length, `${name} has no healthcheck`).toBeGreaterThan(0);
      expect(test[0], `${name}'s healthcheck is disabled`).not.toBe('NONE');
      expect(service.healthcheck?.disable ?? false, name).toBe(false);
    }
    expect(asList(config.services.postgres!.healthcheck?.test).join(' ')).toContain('pg_isready');
    expect(asList(config.services.redis!.healthcheck?.test).join(' ')).toContain('redis-cli ping');
    for (const name of ['worker', 'sdist-worker', 'scheduler']) {
      expect(asList(config.services[name]!.healthcheck?.test).join(' '), name).toContain(':9464/metrics');
    }
  });

  it('pins PostgreSQL and Redis, with volumes, Redis append-only and without eviction', () => {
    const { postgres, redis } = config.services;
    expect(postgres!.image).toMatch(/^postgres:\d+([.-]|$)/);
    expect(redis!.image).toMatch(/^redis:\d+\.\d+([.-]|$)/);
    const redisArgs = asList(redis!.command);
    expect(redisArgs.slice(redisArgs.indexOf('--appendonly'))[1]).toBe('yes');
    expect(redisArgs.slice(redisArgs.indexOf('--maxmemory-policy'))[1]).toBe('noeviction');
    const mounts = (s: Service) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : v.target));
    expect(mounts(postgres!).join(' ')).toContain('/var/lib/postgresql/data');
    expect(mounts(redis!).join(' ')).toContain('/data');
    expect(Object.keys(config.volumes ?? {})).toEqual(
      expect.arrayContaining(['postgres-data', 'redis-data', 'snapshots']),
    );
  });

  it('runs the migrations once, before every pypi-graph process', () => {
    const migrate = config.services.migrate!;
    expect(asList(migrate.command)).toEqual(['pnpm', 'migrate']);
    expect(migrate.restart ?? 'no').toBe('no');
    expect(dependsOn(migrate).postgres?.condition).toBe('service_healthy');
    for (const [name, service] of appServices(config)) {
      if (name === 'migrate') continue;
      expect(dependsOn(service).migrate?.condition, `${name} waits for migrate`).toBe(
        'service_completed_successfully',
      );
    }
    for (const [name, service] of Object.entries(config.services)) {
      const onMigrate = dependsOn(service).migrate;
      if (onMigrate) expect(onMigrate.condition, name).toBe('service_completed_successfully');
    }
  });

  it('runs the commands of the CLI, the workers split by queue', () => {
    const { worker, scheduler, dashboard } = config.services;
    const sdist = config.services['sdist-worker']!;
    const queues = (s: Service) => {
      const args = asList(s.command);
      expect(args.slice(0, 2)).toEqual(['pnpm', 'worker']);
      return args[args.indexOf('--queues') + 1]!.split(',');
    };
    expect(queues(worker!).sort()).toEqual(['discover', 'project', 'wheel-metadata'].sort());
    expect(queues(sdist)).toEqual(['sdist-extract']);
    expect(asList(scheduler!.command)).toEqual(['pnpm', 'scheduler']);
    expect(asList(dashboard!.command)).toEqual(['pnpm', 'dashboard', '--host', '0.0.0.0', '--port', '3000']);
  });

  it('lets the workers scale: no container_name, no fixed host port', () => {
    for (const name of ['worker', 'sdist-worker']) {
      const service = config.services[name]!;
      expect(service.container_name, name).toBeUndefined();
      expect(service.ports ?? [], name).toEqual([]);
    }
    for (const [name, service] of Object.entries(config.services)) {
      if (name !== 'dashboard') expect(service.ports ?? [], `${name} publishes a host port`).toEqual([]);
    }
  });

  it('publishes the dashboard on 127.0.0.1 only', () => {
    const dashboard = config.services.dashboard!;
    expect(dashboard.ports?.length).toBeGreaterThan(0);
    for (const ip of hostIps(dashboard)) expect(ip).toBe('127.0.0.1');
  });

  it('configures every pypi-graph process from one environment', () => {
    for (const [name, service] of appServices(config)) {
      const env = service.environment ?? {};
      expect(env.DATABASE_URL, name).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      expect(env.REDIS_URL, name).toBe(`redis://:${SECRETS.REDIS_PASSWORD}@redis:6379`);
      expect(env.DATABASE_URL, name).toContain(`:${SECRETS.POSTGRES_PASSWORD}@`);
      expect(env.SANDBOX_INTERPRETERS, name).toBe('nixpkgs');
      expect(env.SDIST_EXTRACTION, name).toBe('sandbox');
      expect(env.PYPI_CONTACT, name).toBeDefined();
      expect(env.SNAPSHOT_DIR, name).toBeDefined();
    }
    for (const name of ['worker', 'sdist-worker', 'scheduler']) {
      const env = config.services[name]!.environment ?? {};
      expect(String(env.METRICS_PORT), name).toBe('9464');
      expect(env.METRICS_HOST, name).toBe('0.0.0.0');
    }
    expect(config.services.scheduler!.environment?.SCHEDULE).toBe('0 */12 * * *');
    const snapshotMount = (config.services.scheduler!.volumes ?? []).map((v) =>
      typeof v === 'string' ? v : `${v.source}:${v.target}`,
    );
    expect(snapshotMount.join(' ')).toContain(
      `snapshots:${config.services.scheduler!.environment?.SNAPSHOT_DIR}`,
    );
  });

  it('gives the sdist worker the Nix image and what the Nix build sandbox needs, not seccomp=unconfined', () => {
    const sdist = config.services['sdist-worker']!;
    expect(sdist.build?.target).toBe('sdist-worker');
    expect(sdist.image).not.toBe(config.services.worker!.image);
    // Docker's default seccomp profile plus what Nix needs (test/deploy/nix-seccomp.test.ts
    // shows both halves), its AppArmor profile and its /proc masks lifted; never privileged.
    expect(sdist.privileged ?? false).toBe(false);
    expect(sdist.cap_add ?? []).toEqual([]);
    // docker-compose 1.x writes `seccomp:<path>`; both forms mean the same to Docker.
    const opts = (sdist.security_opt ?? []).map((o) => o.replace(/^seccomp:/, 'seccomp='));
    expect(opts).toEqual(
      expect.arrayContaining([
        'seccomp=./docker/seccomp-nix-sandbox.json',
        'apparmor=unconfined',
        'systempaths=unconfined',
      ]),
    );
    expect(opts).not.toContain('seccomp=unconfined');
    expect(existsSync(path.join(ROOT, 'docker/seccomp-nix-sandbox.json'))).toBe(true);
    for (const [name, service] of Object.entries(config.services)) {
      if (name !== 'sdist-worker') expect(service.security_opt ?? [], name).toEqual([]);
    }
    // Its own Nix store per replica: an anonymous volume on /nix, not a named one shared by replicas.
    const nix = (sdist.volumes ?? []).filter(
      (v) => (typeof v === 'string' ? v.split(':')[0] : v.target) === '/nix',
    );
    expect(nix).toHaveLength(1);
    const v = nix[0]!;
    if (typeof v !== 'string') expect(v.type).toBe('volume');
    if (typeof v !== 'string') expect(v.source ?? '').toBe('');
    // Nix's own settings in that image: the sandbox on, never a silent fallback, <nixpkgs> set.
    const nixConf = readFileSync(path.join(ROOT, 'docker/nix.conf'), 'utf8');
    expect(nixConf).toMatch(/^sandbox = true$/m);
    expect(nixConf).toMatch(/^sandbox-fallback = false$/m);
    expect(nixConf).toMatch(/^nix-path = .*nixpkgs=\/opt\/nixpkgs(\s|$)/m);
    expect(nixConf).toMatch(/^build-users-group = nixbld$/m);
  });

  it('runs Redis with the password, and its health check gets in with it (a real redis-server)', async () => {
    const redis = config.services.redis!;
    const args = asList(redis.command);
    expect(args[0]).toBe('redis-server');
    expect(args.slice(args.indexOf('--requirepass'))[1]).toBe(SECRETS.REDIS_PASSWORD);
    expect(redis.environment?.REDISCLI_AUTH).toBe(SECRETS.REDIS_PASSWORD);
    // The same command line and health check on this machine's redis-server (no container): a
    // free port and no append-only file, everything else as resolved.
    const port = 20000 + Math.floor(Math.random() * 20000);
    const serverArgs = [...args.slice(1), '--port', String(port), '--appendonly', 'no', '--save', ''];
    const server = spawn('redis-server', serverArgs, { stdio: 'ignore' });
    try {
      const ping = (auth?: string) =>
        spawnSync('redis-cli', ['-p', String(port), 'ping'], {
          encoding: 'utf8',
          env: { ...process.env, REDISCLI_AUTH: auth ?? '' },
        }).stdout;
      for (let i = 0; i < 50 && !/PONG|NOAUTH/.test(ping()); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(ping()).toMatch(/NOAUTH/);
      expect(ping(String(redis.environment?.REDISCLI_AUTH))).toMatch(/PONG/);
      expect(asList(redis.healthcheck?.test).join(' ')).toContain('redis-cli ping | grep -q PONG');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('gives the dashboard credentials: it listens beyond loopback inside its container', () => {
    const dashboard = config.services.dashboard!;
    expect(asList(dashboard.command)).toContain('0.0.0.0');
    expect(dashboard.environment?.DASHBOARD_USER).toBe('admin');
    expect(dashboard.environment?.DASHBOARD_PASSWORD).toBe(SECRETS.DASHBOARD_PASSWORD);
    expect(asList(dashboard.healthcheck?.test).join(' ')).toContain('authorization');
    for (const [name, service] of Object.entries(config.services)) {
      if (name !== 'dashboard') expect(service.environment?.DASHBOARD_PASSWORD, name).toBeUndefined();
    }
  });

  it('builds from a Dockerfile and stages that exist', () => {
    const builds = appServices(config);
    expect(builds.length).toBeGreaterThan(0);
    for (const [name, service] of builds) {
      const context = path.resolve(ROOT, service.build!.context);
      const dockerfile = path.resolve(context, service.build!.dockerfile ?? 'Dockerfile');
      expect(existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      const stages = [...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) =>
        m[1]!.toLowerCase(),
      );
      if (service.build!.target) expect(stages, name).toContain(service.build!.target);
      for (const arg of Object.keys(service.build!.args ?? {})) {
        expect(readFileSync(dockerfile, 'utf8'), `${name}: build arg ${arg}`).toMatch(
          new RegExp(`^ARG ${arg}(=|$)`, 'm'),
        );
      }
    }
  });
});

// The files the compose file builds from; these need no Compose implementation.
describe('docker/Dockerfile', () => {
  it('has a Dockerfile whose files exist and whose pnpm is the pinned one', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'docker/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toContain('pnpm install --frozen-lockfile --prod=false');
    const pinned = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }
    ).packageManager.split('@')[1];
    expect(dockerfile).toMatch(new RegExp(`^ARG PNPM_VERSION=${pinned!.replaceAll('.', '\\.')}$`, 'm'));
    // Files the image runs or copies from the repository (as /app/…).
    const referenced = new Set(
      [...dockerfile.matchAll(/\/app\/((?:docker|nix)\/[\w./-]+)/g)].map((m) => m[1]!.replace(/\/$/, '')),
    );
    for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(\S+)\s/gm)) referenced.add(m[1]!);
    expect(referenced.size).toBeGreaterThan(3);
    for (const file of referenced) expect(existsSync(path.join(ROOT, file)), file).toBe(true);
    for (const script of ['docker/run.sh', 'docker/sdist-worker.sh', 'docker/fetch-nixpkgs.sh']) {
      expect(() => accessSync(path.join(ROOT, script), constants.X_OK), `${script} executable`).not.toThrow();
    }
  });

  it('keeps local state out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', '**/node_modules', '.data']) expect(ignored).toContain(entry);
  });
});
