import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '@pypi-graph/config';
import { CrawlError, type FailureCode } from '@pypi-graph/core';
import type { WheelMetadataMethod } from '@pypi-graph/model';
import { createPypiClient, type PypiClient } from '@pypi-graph/pypi-client';
import { type PypiServer, startPypiServer } from '@pypi-graph/pypi-server';
import { parseCoreMetadata, readDependencyFields } from '@pypi-graph/pyspec';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rangeTailBytes, readWheelMetadata, type WheelFileRef } from '../src';

// The three methods against the real local PyPI server (packages/pypi-server), on the committed
// fixture wheels, the real pip and setuptools wheels, and large or many-entry wheels generated here. What
// CPython's zipfile reads from each wheel is the expected METADATA.

const REPO = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURE_WHEELS = path.join(REPO, 'test/fixtures/wheels');
const REAL_WHEELS = path.join(REPO, 'test/fixtures/index/real');
const REAL = ['pip-23.2.1', 'setuptools-65.5.0', 'setuptools-66.1.1'].map((s) => `${s}-py3-none-any.whl`);
const GOOD = [
  ...REAL,
  ...['stored', 'comment', 'zip64', 'descriptor', 'longextra', 'big', 'many', 'sorted'].map(
    (s) => `wf_${s}-1.0-py3-none-any.whl`,
  ),
];
const TAIL = 64 * 1024;

// One Python run: generate the large wheels into the served folder, then read every wheel's
// `{name}-{version}.dist-info/METADATA` with zipfile.
const PYTHON = `
import base64, json, os, runpy, sys, zipfile
folder = sys.argv[1]
sys.argv = ["make-wheel-fixtures.py", "--big", folder]
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    runpy.run_path(os.path.join(${JSON.stringify(REPO)}, "scripts", "make-wheel-fixtures.py"), run_name="__main__")

# Wheels with 3,000 entries (a central directory of ~200 KB, far more than the range path's
# first read), made here with zipfile: where .dist-info/ sits in it decides how much is read.
import random, warnings, zipfile
warnings.simplefilter("ignore")  # zipfile warns about the duplicate names below
rng = random.Random(658)
def meta(name, summary="made for the range-read tests"):
    head = "Metadata-Version: 2.1\\nName: %s\\nVersion: 1.0\\nSummary: %s\\nRequires-Dist: requests>=2\\n\\n" % (name, summary)
    return (head + "A long description.\\n" * 60).encode()
def modules(pkg):
    return [("%s/m%04d.py" % (pkg, i), rng.randbytes(1000)) for i in range(3000)]
def dist(name):
    d = "%s-1.0.dist-info/" % name
    return [(d + "METADATA", meta(name)), (d + "WHEEL", b"Wheel-Version: 1.0\\n"), (d + "RECORD", b"")]
def wheel(name, members):
    with zipfile.ZipFile(os.path.join(folder, name + "-1.0-py3-none-any.whl"), "w") as z:
        for arc, data in members:
            info = zipfile.ZipInfo(arc, (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if arc.endswith(".py") else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
wheel("wf_many", modules("wf_many") + dist("wf_many"))           # .dist-info/ last, as builders write it
wheel("wf_sorted", dist("wf_sorted") + modules("wf_sorted"))     # .dist-info/ first in the directory
early = [("wf_dupearly-1.0.dist-info/METADATA", meta("wf_dupearly", "the first copy"))]
wheel("wf_dupearly", early + modules("wf_dupearly") + dist("wf_dupearly"))
wheel("wf_twoearly", [("other-2.0.dist-info/METADATA", meta("other"))] + modules("wf_twoearly") + dist("wf_twoearly"))
wheel("wf_dupend", modules("wf_dupend") + dist("wf_dupend") + dist("wf_dupend")[:1])

out = {}
for name in sorted(os.listdir(folder)):
    parts = name[:-4].split("-")
    try:
        with zipfile.ZipFile(os.path.join(folder, name)) as z:
            data = z.read("%s-%s.dist-info/METADATA" % (parts[0], parts[1]))
        out[name] = base64.b64encode(data).decode() if len(data) < 4 << 20 else None
    except Exception as err:
        out[name] = None
print(json.dumps(out))
`;

let folder: string;
let tmpDir: string;
let server: PypiServer;
let client: PypiClient;
const refs = new Map<string, WheelFileRef>();
const expected = new Map<string, Buffer>();

const fastRetry = { baseMs: 5, maxMs: 20, maxRetryAfterMs: 5_000 };

/**
 * Resolves when `res` can take more or has closed, and removes both listeners either way: a
 * `once('close')` left behind by every drain piles up on a long response (11 of them is Node's
 * MaxListenersExceededWarning).
 */
function drainOrClose(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function clientFor(url: string): PypiClient {
  const config = loadConfig({
    PYPI_URL: url,
    HTTP_RPS_PER_HOST: '0',
    HTTP_ATTEMPTS: '3',
    HTTP_TIMEOUT_MS: '10000',
    PYPI_CONTACT: 'tests@example.invalid',
  });
  return createPypiClient(config, { retry: fastRetry });
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'wheel-metadata-index-'));
  tmpDir = await mkdtemp(path.join(tmpdir(), 'wheel-metadata-dl-'));
  for (const f of await readdir(FIXTURE_WHEELS)) {
    if (f.endsWith('.whl')) await copyFile(path.join(FIXTURE_WHEELS, f), path.join(folder, f));
  }
  for (const f of REAL) await copyFile(path.join(REAL_WHEELS, f), path.join(folder, f));
  const { stdout } = await promisify(execFile)('python3', ['-c', PYTHON, folder], { maxBuffer: 64 << 20 });
  for (const [name, b64] of Object.entries(JSON.parse(stdout) as Record<string, string | null>)) {
    if (b64 !== null) expected.set(name, Buffer.from(b64, 'base64'));
  }

  server = await startPypiServer({ dir: folder });
  client = clientFor(server.url);
  for (const project of server.index.projectList) {
    const page = await client.getSimpleProject(project.normalized);
    for (const f of page.files) {
      refs.set(f.filename, {
        url: f.url,
        filename: f.filename,
        sha256: f.sha256!,
        size: f.size,
        hasCoreMetadata: f.coreMetadata !== false,
        coreMetadataSha256: typeof f.coreMetadata === 'object' ? f.coreMetadata.sha256 : null,
      });
    }
  }
}, 60_000);

afterAll(async () => {
  await client?.close();
  await server?.close();
  await rm(folder, { recursive: true, force: true });
  await rm(tmpDir, { recursive: true, force: true });
});

beforeEach(() => {
  server.clearFaults();
});

const ref = (filename: string) => {
  const r = refs.get(filename);
  if (!r) throw new Error(`${filename} is not in the index`);
  return r;
};

const read = (
  filename: string,
  methods?: WheelMetadataMethod[],
  override: Partial<WheelFileRef> = {},
  c: PypiClient = client,
) => readWheelMetadata(c, { ...ref(filename), ...override }, { tmpDir, methods });

async function failure(p: Promise<unknown>): Promise<CrawlError> {
  const err = await p.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrawlError);
  return err as CrawlError;
}

describe('every method reads the METADATA zipfile reads', () => {
  it('has the fixtures it needs', async () => {
    for (const f of GOOD) expect(expected.has(f), f).toBe(true);
    for (const f of GOOD) expect(ref(f).hasCoreMetadata, f).toBe(true);
    expect((await stat(path.join(folder, 'wf_big-1.0-py3-none-any.whl'))).size).toBeGreaterThan(19 << 20);
  });

  for (const method of ['pep658', 'range', 'download'] as const) {
    it(`${method}: byte-identical for every good wheel`, async () => {
      for (const filename of GOOD) {
        const result = await read(filename, [method]);
        expect(result.method).toBe(method);
        expect(result.metadata.equals(expected.get(filename)!), filename).toBe(true);
        const [name, version] = filename.split('-');
        expect(result.distInfo).toBe(`${name}-${version}.dist-info`);
        expect(result.fallbacks).toEqual([]);
        if (method === 'download') expect(result.bytesTransferred).toBe(ref(filename).size);
      }
      expect(await readdir(tmpDir)).toEqual([]);
    });
  }

  it('uses the .metadata file first: one request, the METADATA bytes only', async () => {
    const result = await read('pip-23.2.1-py3-none-any.whl');
    expect(result).toMatchObject({ method: 'pep658', requests: 1, bytesTransferred: 4239 });
  });

  it('accepts a .metadata file the index advertises without a hash', async () => {
    const result = await read('setuptools-65.5.0-py3-none-any.whl', undefined, { coreMetadataSha256: null });
    expect(result.method).toBe('pep658');
  });
});

describe('METADATA that is not UTF-8 (issue 10)', () => {
  it('is read by every method, byte for byte, its Latin-1 line counted, not refused', async () => {
    const filename = 'wf_latin1-1.0-py3-none-any.whl';
    for (const method of ['pep658', 'range', 'download'] as const) {
      const result = await read(filename, [method]);
      expect(result.method).toBe(method);
      expect(result.metadata.equals(expected.get(filename)!), method).toBe(true);
      const meta = parseCoreMetadata(result.metadata);
      expect(meta.notUtf8Lines).toBe(1);
      expect(meta.get('Author')).toBe('José Müller');
      expect(readDependencyFields(meta).name).toBe('wf_latin1');
    }
  });
});

describe('range reads', () => {
  it('need at most 3 requests for the real wheels, and agree with the server log', async () => {
    for (const filename of REAL) {
      server.resetStats();
      const result = await read(filename, ['range']);
      expect(result.requests, filename).toBeLessThanOrEqual(3);
      const log = server.requestLog.filter((r) => r.route === 'file');
      expect(log.length).toBe(result.requests);
      expect(log.every((r) => r.status === 206)).toBe(true);
      expect(log.reduce((n, r) => n + r.bytes, 0)).toBe(result.bytesTransferred);
    }
  });

  it('transfer less than 1% of a 20 MB wheel whose METADATA lies far from its end', async () => {
    const filename = 'wf_big-1.0-py3-none-any.whl';
    const size = ref(filename).size!;
    const result = await read(filename, ['range']);
    expect(result.requests).toBe(2); // the tail, then the METADATA entry at the start
    expect(result.bytesTransferred).toBeLessThan(size / 100);
    expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
  });

  it('find the end record behind a 64 KiB archive comment', async () => {
    const result = await read('wf_comment-1.0-py3-none-any.whl', ['range']);
    expect(result.requests).toBe(2);
  });

  it('ask the server for the size with HEAD when the index gave none: one request more', async () => {
    for (const filename of REAL) {
      const withSize = await read(filename, ['range']);
      const result = await read(filename, ['range'], { size: null });
      expect(result.requests, filename).toBe(withSize.requests + 1);
      expect(server.requestLog.at(-result.requests)?.method).toBe('HEAD');
      expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
    }
    // METADATA's record at the end of the central directory: HEAD, tail, METADATA.
    expect((await read('pip-23.2.1-py3-none-any.whl', ['range'], { size: null })).requests).toBe(3);
  });

  it('retry a 503 and go on', async () => {
    const filename = 'pip-23.2.1-py3-none-any.whl';
    const clean = await read(filename, ['range']);
    server.setFaults([{ match: `/${filename}$`, kind: '503', times: 1 }]);
    const result = await read(filename, ['range']);
    expect(result.requests).toBe(clean.requests + 1); // the 503, then its retry
    expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
    expect(server.faults()[0]?.remaining).toBe(0);
    server.setFaults([{ match: `/${filename}\\.metadata$`, kind: '503', times: 2 }]);
    const viaPep658 = await read(filename);
    expect(viaPep658).toMatchObject({ method: 'pep658', requests: 3 });
  });

  it('fall back to the sha256-checked download when the bytes read are corrupt', async () => {
    const filename = 'setuptools-66.1.1-py3-none-any.whl';
    // The last range read (the METADATA entry) gets a flipped byte: CRC-32 catches it. (A flip in
    // the central directory's names would go unseen by any zip reader: it has no checksum.)
    const reads = (await read(filename, ['range'])).requests;
    const faults = () =>
      server.setFaults([
        { match: `/${filename}$`, method: 'GET', kind: 'slow', delayMs: 0, times: reads - 1 },
        { match: `/${filename}$`, method: 'GET', kind: 'wrong-bytes', times: 1 },
      ]);
    faults();
    const ranged = await failure(read(filename, ['range']));
    expect(ranged.code).toBe('archive-corrupt');
    faults();
    const result = await read(filename, ['range', 'download']);
    expect(result.method).toBe('download');
    expect(result.fallbacks).toEqual([expect.objectContaining({ method: 'range', code: 'archive-corrupt' })]);
    expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
  });
});

describe('range reads of the end of the central directory', () => {
  const wf = (name: string) => `wf_${name}-1.0-py3-none-any.whl`;

  it('take 0.5% of the wheel as the first read, 4 to 64 KiB; a wheel of up to 8 KiB whole', () => {
    expect(rangeTailBytes(1234)).toBe(1234);
    expect(rangeTailBytes(8192)).toBe(8192);
    expect(rangeTailBytes(8193)).toBe(4096);
    expect(rangeTailBytes(2_086_091)).toBe(10_430);
    expect(rangeTailBytes(120 << 20)).toBe(65_536);
  });

  it('find METADATA in the last records: tail and entry, 2 requests, under 1% of the wheel', async () => {
    for (const filename of [
      'pip-23.2.1-py3-none-any.whl',
      'setuptools-65.5.0-py3-none-any.whl',
      wf('many'),
    ]) {
      const size = ref(filename).size!;
      server.resetStats();
      const result = await read(filename, ['range']);
      expect(result, filename).toMatchObject({ requests: 2, centralDirectory: 'end' });
      expect(result.bytesTransferred, filename).toBeLessThan(size / 100);
      expect(result.metadata.equals(expected.get(filename)!), filename).toBe(true);
      // The first read was only the tail, not the whole central directory.
      const [first] = server.requestLog.filter((r) => r.route === 'file');
      expect(first?.bytes).toBe(rangeTailBytes(size));
    }
  });

  it('read the whole central directory when METADATA is not in its last records: 3 requests', async () => {
    for (const filename of [wf('sorted'), 'setuptools-66.1.1-py3-none-any.whl']) {
      server.resetStats();
      const result = await read(filename, ['range']);
      expect(result, filename).toMatchObject({ requests: 3, centralDirectory: 'whole' });
      expect(result.metadata.equals(expected.get(filename)!), filename).toBe(true);
      const log = server.requestLog.filter((r) => r.route === 'file');
      expect(log.map((r) => r.status)).toEqual([206, 206, 206]);
    }
    // A tail too short to hold METADATA's record does the same.
    const short = await readWheelMetadata(client, ref('pip-23.2.1-py3-none-any.whl'), {
      tmpDir,
      methods: ['range'],
      tailBytes: 300,
    });
    expect(short).toMatchObject({ requests: 3, centralDirectory: 'whole' });
  });

  it('leave two copies of METADATA in the last records to the whole directory: archive-duplicate-entry', async () => {
    const err = await failure(read(wf('dupend'), ['range']));
    expect(err.code).toBe('archive-duplicate-entry');
    expect(err.details).toMatchObject({ requests: 2 }); // the tail, the rest of the directory
  });

  // The documented price of deciding from the end (selectWheelMetadataFromEnd): what only the
  // whole directory shows is not refused. The copy read is the one zipfile (and pip) reads.
  it('accept the last METADATA when an earlier copy is unseen, as zipfile does; the download refuses', async () => {
    const ranged = await read(wf('dupearly'), ['range']);
    expect(ranged).toMatchObject({ requests: 2, centralDirectory: 'end' });
    expect(ranged.metadata.equals(expected.get(wf('dupearly'))!)).toBe(true);
    expect(ranged.metadata.toString()).not.toContain('the first copy');
    expect((await failure(read(wf('dupearly'), ['download']))).code).toBe('archive-duplicate-entry');
  });

  it('accept METADATA when an earlier .dist-info is unseen; the download refuses', async () => {
    const ranged = await read(wf('twoearly'), ['range']);
    expect(ranged).toMatchObject({
      requests: 2,
      centralDirectory: 'end',
      distInfo: 'wf_twoearly-1.0.dist-info',
    });
    expect((await failure(read(wf('twoearly'), ['download']))).code).toBe('wheel-multiple-dist-info');
  });
});

describe('a .metadata file with the wrong bytes', () => {
  it('is caught by its sha256 and the wheel itself is read instead', async () => {
    const filename = 'pip-23.2.1-py3-none-any.whl';
    server.setFaults([{ match: '\\.metadata$', kind: 'wrong-bytes' }]);
    const result = await read(filename);
    expect(result.method).toBe('range');
    expect(result.fallbacks).toEqual([
      expect.objectContaining({ method: 'pep658', code: 'metadata-sha256-mismatch' }),
    ]);
    expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
    const only = await failure(read(filename, ['pep658']));
    expect(only.code).toBe('metadata-sha256-mismatch');
    expect(only.details).toMatchObject({ requests: 1, bytesTransferred: 4239 });
  });
});

describe('a server that ignores Range', () => {
  let plain: http.Server;
  let plainClient: PypiClient;
  const sent: Array<{ method: string; url: string; bytes: number; finished: boolean }> = [];

  beforeAll(async () => {
    // Answers every GET with 200 and the whole file, as some mirrors do; counts what it wrote.
    plain = http.createServer(async (req, res) => {
      const name = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
      const data = await readFile(path.join(folder, name)).catch(() => undefined);
      if (!data) {
        res.writeHead(404).end();
        return;
      }
      const record = { method: req.method ?? '', url: req.url ?? '', bytes: 0, finished: false };
      sent.push(record);
      res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // Write in 64 KiB pieces, honouring backpressure, so a client that hangs up stops us.
      for (let at = 0; at < data.length && !res.destroyed; at += 65536) {
        const piece = data.subarray(at, at + 65536);
        record.bytes += piece.length;
        if (!res.write(piece)) await drainOrClose(res);
      }
      if (!res.destroyed) res.end(() => (record.finished = true));
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    plainClient = clientFor(`http://127.0.0.1:${(plain.address() as AddressInfo).port}`);
  });

  afterAll(async () => {
    await plainClient.close();
    plain.closeAllConnections();
    await new Promise((r) => plain.close(r));
  });

  const plainUrl = (filename: string) => {
    const port = (plain.address() as AddressInfo).port;
    return `http://127.0.0.1:${port}/files/${encodeURIComponent(filename)}`;
  };

  it('costs one bounded request before the download', async () => {
    const filename = 'wf_big-1.0-py3-none-any.whl';
    const size = ref(filename).size!;
    const ranged = await failure(read(filename, ['range'], { url: plainUrl(filename) }, plainClient));
    expect(ranged.code).toBe('range-not-supported');
    expect(ranged.details).toMatchObject({ requests: 1 });
    expect(ranged.details?.bytesTransferred).toBeLessThanOrEqual(TAIL);

    sent.length = 0;
    const result = await read(
      filename,
      undefined,
      { url: plainUrl(filename), hasCoreMetadata: false },
      plainClient,
    );
    expect(result.method).toBe('download');
    expect(result.fallbacks).toEqual([
      expect.objectContaining({ method: 'range', code: 'range-not-supported' }),
    ]);
    expect(result.requests).toBe(2);
    expect(result.bytesTransferred).toBeLessThanOrEqual(size + TAIL);
    expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
    // The abandoned 200 was cut short: the client hung up before the server was done (what the
    // server did write went into socket buffers; the client read none of it, see above).
    await new Promise((r) => setTimeout(r, 50));
    expect(sent[0]).toMatchObject({ method: 'GET', finished: false });
    expect(sent[0]!.bytes).toBeLessThan(size);
    expect(sent[1]).toMatchObject({ method: 'GET', finished: true, bytes: size });
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('still reads a wheel smaller than the tail from the 200 body, sha256-checked', async () => {
    const filename = 'wf_stored-1.0-py3-none-any.whl';
    const result = await read(filename, ['range'], { url: plainUrl(filename) }, plainClient);
    expect(result).toMatchObject({ method: 'range', requests: 1, bytesTransferred: ref(filename).size });
    expect(result.metadata.equals(expected.get(filename)!)).toBe(true);
    const wrong = await failure(
      read(filename, ['range'], { url: plainUrl(filename), sha256: 'a'.repeat(64) }, plainClient),
    );
    expect(wrong.code).toBe('download-sha256-mismatch');
  });
});

describe('bad wheels fail with their code, by range reads and by download', () => {
  const cases: Array<[string, FailureCode]> = [
    ['wf_truncated', 'archive-corrupt'],
    ['wf_badcd', 'archive-corrupt'],
    ['wf_notzip', 'archive-corrupt'],
    ['wf_badcrc', 'archive-corrupt'],
    ['wf_lyinglocal', 'archive-corrupt'],
    ['wf_nometadata', 'metadata-missing'],
    ['wf_dupmetadata', 'archive-duplicate-entry'],
    ['wf_twodistinfo', 'wheel-multiple-dist-info'],
    ['wf_mismatch', 'wheel-dist-info-mismatch'],
    ['wf_bomb', 'archive-bomb'],
    ['wf_bomblie', 'archive-bomb'],
    ['wf_bzip2', 'archive-unsupported'],
    ['wf_hugemeta', 'metadata-too-large'],
  ];
  for (const [name, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const filename = `${name}-1.0-py3-none-any.whl`;
      for (const method of ['range', 'download'] as const) {
        const err = await failure(read(filename, [method]));
        expect(err.code, `${method}: ${err.message}`).toBe(code);
      }
      // All methods, the .metadata file ignored: only a corrupt archive is worth a download.
      const all = await failure(read(filename, undefined, { hasCoreMetadata: false }));
      expect(all.code).toBe(code);
      const fallbacks = (all.details?.fallbacks ?? []) as Array<{ method: string; code: string }>;
      expect(fallbacks.map((f) => f.method)).toEqual(code === 'archive-corrupt' ? ['range'] : []);
      expect(await readdir(tmpDir)).toEqual([]);
    });
  }

  it('refuses a non-wheel file name', async () => {
    const err = await failure(
      read('pip-23.2.1-py3-none-any.whl', undefined, { filename: 'pip-23.2.1.tar.gz' }),
    );
    expect(err.code).toBe('filename-invalid');
  });

  it('stops at once when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(
      readWheelMetadata(client, ref('pip-23.2.1-py3-none-any.whl'), { tmpDir, signal: controller.signal }),
    );
    expect(err.code).toBe('aborted');
  });
});

it('leaves no file behind in tmpDir', async () => {
  await mkdir(tmpDir, { recursive: true });
  expect(await readdir(tmpDir)).toEqual([]);
});
