// Where tests find PostgreSQL and Redis, in this order:
//  1. TEST_DATABASE_URL / TEST_REDIS_URL (CI and the development machines: running services);
//  2. testcontainers, when a Docker engine answers (a laptop);
//  3. otherwise the test stops with a message that says how to provide them.
// Every test gets its own database and its own Redis key prefix, so files can run in parallel.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';

const HOW =
  'set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) and TEST_REDIS_URL ' +
  '(e.g. redis://127.0.0.1:6379), or start a Docker engine so that testcontainers can run them';

let pgBase: Promise<string> | undefined;
let redisBase: Promise<string> | undefined;

function dockerAnswers(): boolean {
  return existsSync('/var/run/docker.sock') || Boolean(process.env.DOCKER_HOST);
}

async function containerUrl(kind: 'postgres' | 'redis'): Promise<string> {
  if (!dockerAnswers()) throw new Error(`no ${kind} for the tests: ${HOW}`);
  const { GenericContainer, Wait } = await import('testcontainers');
  if (kind === 'postgres') {
    const c = await new GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    return `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`;
  }
  const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
  return `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
}

/** An administrative PostgreSQL URL (a database that exists, used to create per-test ones). */
export function postgresAdminUrl(): Promise<string> {
  pgBase ??= process.env.TEST_DATABASE_URL
    ? Promise.resolve(process.env.TEST_DATABASE_URL)
    : containerUrl('postgres');
  return pgBase;
}

export function redisUrl(): Promise<string> {
  redisBase ??= process.env.TEST_REDIS_URL
    ? Promise.resolve(process.env.TEST_REDIS_URL)
    : containerUrl('redis');
  return redisBase;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of its own on the test PostgreSQL server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = await postgresAdminUrl();
  const name = uniqueName('pgt');
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Whether Nix's `nix-build` is on PATH (the sdist sandbox needs it; .ci/run installs nix-bin). */
export function hasNix(): boolean {
  try {
    execFileSync('nix-build', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
