import { constants, createGzip } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createPypiClient, type PypiClient } from '../src';
import {
  expectCode,
  fastRetry,
  startServer,
  type TestServer,
  testConfig,
  type XmlRpcMethod,
  xmlResponse,
  xmlrpcHandler,
} from './helpers';

let servers: TestServer[] = [];
let clients: PypiClient[] = [];

afterEach(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.close();
  clients = [];
  servers = [];
});

async function setup(methods: Record<string, XmlRpcMethod>, env: Record<string, string> = {}) {
  const server = await startServer(xmlrpcHandler(methods));
  const client = createPypiClient(testConfig(server.url, env), { retry: fastRetry });
  servers.push(server);
  clients.push(client);
  return { server, client };
}

describe('XML-RPC client', () => {
  it('reads changelog_last_serial through POST /pypi', async () => {
    const { client, server } = await setup({ changelog_last_serial: () => ({ value: 12345 }) });
    expect(await client.changelogLastSerial()).toBe(12345);
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/pypi' });
    expect(server.requests[0]?.headers['content-type']).toBe('text/xml');
    expect(server.requests[0]?.body).toContain('<methodName>changelog_last_serial</methodName>');
  });

  it('returns typed changelog rows and drops malformed ones, counting them', async () => {
    const { client, server } = await setup({
      changelog_since_serial: ([since]) => ({
        value: [
          ['b', null, 1700000001, 'remove project', 12],
          ['a', '1.0', 1700000000, 'new release', 11],
          ['bad', '1.0', 'yesterday', 'new release', 13],
          ['short row', '1.0', 1700000000],
          [null, '1.0', 1700000000, 'new release', 14],
          ['c', '2.0', 1700000002, 'add source file c-2.0.tar.gz', since === undefined ? -1 : since + 5],
        ],
      }),
    });
    const rows = await client.changelogSinceSerial(10);
    expect(server.requests[0]?.body).toContain('<int>10</int>');
    expect(rows).toEqual([
      { name: 'a', version: '1.0', timestamp: 1700000000, action: 'new release', serial: 11 },
      { name: 'b', version: null, timestamp: 1700000001, action: 'remove project', serial: 12 },
      {
        name: 'c',
        version: '2.0',
        timestamp: 1700000002,
        action: 'add source file c-2.0.tar.gz',
        serial: 15,
      },
    ]);
    expect(client.stats().droppedEntries).toBe(3);
  });

  it('lists packages with serials, dropping bad entries', async () => {
    const { client } = await setup({
      list_packages_with_serial: () => ({ value: { flask: 10, Django: 20, broken: 'x', neg: -1 } }),
    });
    const listed: Array<[string, number]> = [];
    await client.eachPackageWithSerial(async (batch) => {
      listed.push(...batch);
    });
    expect(listed).toEqual([
      ['flask', 10],
      ['Django', 20],
    ]);
    expect(client.stats().droppedEntries).toBe(2);
  });

  it('retries the PyPI rate-limit fault (-32500) after the stated seconds', async () => {
    let calls = 0;
    const { client, server } = await setup({
      changelog_last_serial: () =>
        calls++ === 0
          ? {
              fault: [
                -32500,
                'HTTPTooManyRequests: The action could not be performed because there were too many ' +
                  'requests by the client. Limit may reset in 1 seconds.',
              ],
            }
          : { value: 99 },
    });
    const t0 = performance.now();
    expect(await client.changelogLastSerial()).toBe(99);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
    expect(server.requests).toHaveLength(2);
    expect(client.stats().retries).toBe(1);
  });

  it('gives up on the rate-limit fault after HTTP_ATTEMPTS, with the code xmlrpc-rate-limited', async () => {
    const { client, server } = await setup(
      {
        changelog_last_serial: () => ({
          fault: [-32500, 'HTTPTooManyRequests: Limit may reset in 0 seconds.'],
        }),
      },
      { HTTP_ATTEMPTS: '2' },
    );
    const err = await expectCode(client.changelogLastSerial(), 'xmlrpc-rate-limited');
    expect(err.retryAfterMs).toBe(0);
    expect(server.requests).toHaveLength(2);
  });

  it('maps other faults to xmlrpc-fault without retrying', async () => {
    const { client, server } = await setup({
      changelog_since_serial: () => ({ fault: [-32500, 'RuntimeError: PyPI no longer supports changelog'] }),
    });
    const err = await expectCode(client.changelogSinceSerial(1), 'xmlrpc-fault');
    expect(err.details).toMatchObject({ faultCode: -32500 });
    expect(server.requests).toHaveLength(1);
  });

  it('rejects malformed answers as response-invalid', async () => {
    const { client } = await setup({
      changelog_last_serial: () => ({ raw: '<methodResponse><params>' }),
      changelog_since_serial: () => ({ value: 'not an array' }),
      list_packages_with_serial: () => ({ value: [1, 2] }),
    });
    await expectCode(client.changelogLastSerial(), 'response-invalid');
    await expectCode(client.changelogSinceSerial(0), 'response-invalid');
    await expectCode(
      client.eachPackageWithSerial(async () => {}),
      'response-invalid',
    );
  });

  it('spaces XML-RPC calls to XMLRPC_RPS', async () => {
    const { client, server } = await setup(
      { changelog_last_serial: () => ({ value: 1 }) },
      { XMLRPC_RPS: '5' },
    );
    const t0 = performance.now();
    await Promise.all([
      client.changelogLastSerial(),
      client.changelogLastSerial(),
      client.changelogLastSerial(),
    ]);
    // Three calls at 5/s: two intervals of 200 ms at least.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(server.requests).toHaveLength(3);
  });
});

describe('list_packages_with_serial read as it arrives', () => {
  /**
   * A server that sends the listing's first 2,500 members, then waits for the client to have
   * handed out a batch before sending the rest: a client that buffers the whole body never hands
   * one out in time (the server gives up after 3 s and sends the rest anyway).
   */
  async function streamingServer(gzip: boolean) {
    const entries = Array.from({ length: 5000 }, (_, i): [string, number] => [`Project_${i}`, i + 1]);
    const text = xmlResponse(Object.fromEntries(entries));
    const cut = text.indexOf('<member>', text.indexOf('<name>Project_2500</name>') - 20);
    let gotBatch: () => void = () => {};
    const batchSeen = new Promise<boolean>((resolve) => {
      gotBatch = () => resolve(true);
      setTimeout(() => resolve(false), 3_000);
    });
    let batchBeforeEnd: boolean | undefined;
    const server = await startServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      const out = gzip ? createGzip() : undefined;
      out?.pipe(res);
      const send = (s: string) =>
        new Promise<void>((r) =>
          out ? out.write(s, () => out.flush(constants.Z_SYNC_FLUSH, r)) : res.write(s, () => r()),
        );
      await send(text.slice(0, cut));
      batchBeforeEnd = await batchSeen;
      await send(text.slice(cut));
      if (out) out.end();
      else res.end();
    });
    const client = createPypiClient(testConfig(server.url), { retry: fastRetry });
    servers.push(server);
    clients.push(client);
    return { client, entries, gotBatch: () => gotBatch(), batchBeforeEnd: () => batchBeforeEnd };
  }

  for (const gzip of [false, true]) {
    it(`hands out batches before the body ends${gzip ? ' (gzip)' : ''}, all entries in order`, async () => {
      const { client, entries, gotBatch, batchBeforeEnd } = await streamingServer(gzip);
      const got: Array<[string, number]> = [];
      const sizes: number[] = [];
      const n = await client.eachPackageWithSerial(async (batch) => {
        sizes.push(batch.length);
        got.push(...batch);
        gotBatch();
      });
      expect(n).toBe(5000);
      expect(got).toEqual(entries);
      expect(sizes).toEqual([1000, 1000, 1000, 1000, 1000]);
      expect(batchBeforeEnd()).toBe(true);
    });
  }

  it('keeps the response cap on the decoded listing, and faults still come out as faults', async () => {
    const { client } = await setup(
      {
        list_packages_with_serial: () => ({
          value: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`p${i}`, i])),
        }),
      },
      { HTTP_MAX_RESPONSE_BYTES: '4096' },
    );
    await expectCode(
      client.eachPackageWithSerial(async () => {}),
      'response-too-large',
    );
    const faulty = await setup({ list_packages_with_serial: () => ({ fault: [1, 'no listing today'] }) });
    await expectCode(
      faulty.client.eachPackageWithSerial(async () => {}),
      'xmlrpc-fault',
    );
  });
});
