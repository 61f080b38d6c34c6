// The onBytes observer hears every response body byte the client counts, with what it was
// fetched for; here against the local PyPI server on the fixture index (real HTTP).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPypiClient, type TrafficKind } from '../src';
import { testConfig } from './helpers';

let server: PypiServer;
let dir: string;

beforeAll(async () => {
  server = await startPypiServer({ dir: path.resolve('test/fixtures/index') });
  dir = await mkdtemp(path.join(tmpdir(), 'traffic-'));
});
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('onBytes', () => {
  it('reports each body chunk by kind, adding up to stats().bytesReceived', async () => {
    const heard = new Map<TrafficKind, number>();
    const client = createPypiClient(testConfig(server.url, { HTTP_MAX_RESPONSE_BYTES: String(16 << 20) }), {
      onBytes: (kind, bytes) => heard.set(kind, (heard.get(kind) ?? 0) + bytes),
    });
    try {
      await client.changelogLastSerial();
      const page = await client.getSimpleProject('foo-bar');
      await client.getProjectJson('foo-bar');
      const wheel = page.files.find((f) => f.filename.endsWith('.whl') && f.coreMetadata !== false)!;
      expect(wheel, 'a wheel with PEP 658 metadata').toBeDefined();
      const meta = await client.fetchSmallFile(`${wheel.url.split('#')[0]}.metadata`, { maxBytes: 1 << 20 });
      const range = await client.fetchRange(wheel.url, 0, 99);
      const got = await client.download(wheel.url, { sha256: wheel.sha256!, dir });
      await client.head(wheel.url);

      expect(heard.get('xmlrpc')).toBeGreaterThan(0);
      expect(heard.get('api')).toBeGreaterThan(0);
      expect(heard.get('metadata')).toBe(meta.data.length);
      expect(heard.get('range')).toBe(range.data.length);
      expect(heard.get('download')).toBe(got.bytes);
      expect(heard.get('head') ?? 0).toBe(0);
      const total = [...heard.values()].reduce((a, b) => a + b, 0);
      expect(total).toBe(client.stats().bytesReceived);
    } finally {
      await client.close();
    }
  });
});
