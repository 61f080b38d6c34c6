import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIG_ENTRY, MAX_PIECE, startsPiece } from '../src/bucket-writer';
import {
  type PublishResult,
  pruneSnapshots,
  publishSnapshot,
  type SnapshotMeta,
  type SnapshotSource,
} from '../src/index';
import { hasCommand, runPython, tempDir } from './helpers';
import { type KillProject, killSource, projectAt } from './kill-source';

let tmp: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

/**
 * A source over every layout with tokens: a project's token is its version counter, bumped by
 * every change, as `projects.change_seq` is by every write in the database.
 */
class World {
  readonly projects = new Map<number, KillProject>();
  meta: SnapshotMeta = { serial: 1, unixTimestamp: 1_700_000_000 };
  /** Keys asked for by the last publish, per data kind (undefined: the whole bucket). */
  asked = { pypi: 0, wheel: 0, sdist: 0, whole: 0 };
  /** The most keys one call of the last publish asked for. */
  largestAsk = 0;

  constructor(n: number) {
    for (let i = 0; i < n; i++) this.projects.set(i, projectAt(i, 0));
  }

  change(i: number): void {
    const p = this.projects.get(i) ?? projectAt(i, 0);
    this.projects.set(i, projectAt(i, p.version + 1));
  }

  remove(i: number): void {
    this.projects.delete(i);
  }

  source(version = 'v1'): SnapshotSource {
    this.asked = { pypi: 0, wheel: 0, sdist: 0, whole: 0 };
    this.largestAsk = 0;
    return killSource(
      () => [...this.projects.values()],
      () => this.meta,
      version,
      (kind, keys) => {
        if (keys === undefined) this.asked.whole++;
        else this.asked[kind] += keys.length;
        this.largestAsk = Math.max(this.largestAsk, keys?.length ?? Number.POSITIVE_INFINITY);
      },
    );
  }
}

/** Every file under `dir` with its bytes' sha256, by relative path. */
async function fileHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return out;
}

async function publish(
  outDir: string,
  source: SnapshotSource,
  extra: { full?: boolean; keep?: number; sliceKeys?: number } = {},
) {
  return publishSnapshot({ outDir, source, ...extra });
}

function same(a: PublishResult, b: PublishResult): void {
  expect(a.id).toBe(b.id);
  expect(a.tarballSha256).toBe(b.tarballSha256);
  expect(a.narHashSri).toBe(b.narHashSri);
  expect(a.counts).toEqual(b.counts);
}

describe('incremental snapshots', () => {
  it('render only the changed keys and give the bytes of a full snapshot of the same state', async () => {
    const world = new World(6000);
    // Big projects: hundreds of releases, entries of BIG_ENTRY bytes or more (pieces of their
    // own, split every MAX_PIECE bytes).
    const big = [7, 8, 1000, 2500, 4999];
    for (const i of big) world.projects.set(i, projectAt(i, i === 8 || i === 2500 ? 2000 : 600));
    const out = join(tmp.path, 'out');
    const first = await publish(out, world.source());
    expect(first.stats.previous).toBeNull();
    // pypi, wheel, sdist: every key read once, by key (a bucket in slices), none read whole
    expect(world.asked).toEqual({ pypi: 6000, wheel: 6000, sdist: 6000, whole: 0 });
    const lengths = (await readFile(join(out, '.reuse', `${first.id}.entries`), 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('E\t'))
      .map((l) => Number(l.split('\t')[3]));
    expect(lengths.filter((n) => n >= MAX_PIECE).length).toBeGreaterThan(0);
    expect(lengths.filter((n) => n >= BIG_ENTRY).length).toBeGreaterThanOrEqual(big.length * 3);

    // A day: 40 projects change, 5 are removed, 15 are new: 10 of any key, and 5 whose key
    // starts a tarball piece (each comes right after entries copied from the previous file).
    for (let i = 0; i < 40; i++) world.change(i * 97);
    world.change(8); // a big project with a release more
    world.change(2500);
    for (let i = 0; i < 5; i++) world.remove(i * 131 + 1);
    for (let i = 0; i < 10; i++) world.change(6000 + i);
    for (let i = 6010, n = 0; n < 5; i++) {
      if (!startsPiece(projectAt(i, 0).key)) continue;
      world.change(i);
      n++;
    }
    world.meta = { serial: 2, unixTimestamp: 1_700_086_400 };
    // The removed ones are gone from the tokens: nothing to ask for, their entries just go.
    const changedKeys = 40 + 15 + 2;

    const next = await publish(out, world.source());
    expect(next.stats.previous).toBe(first.id);
    // Only the changed keys were asked for, once per data kind; nothing else was read.
    expect(world.asked).toEqual({ pypi: changedKeys, wheel: changedKeys, sdist: changedKeys, whole: 0 });
    expect(next.stats.keysRendered).toBe(changedKeys * 4);
    expect(next.stats.keysReused).toBe((6000 - 40 - 5 - 2) * 4);
    expect(next.stats.bytesReused).toBeGreaterThan(next.stats.bytesCompressed);
    // The unchanged pieces were taken by their place in the previous file, not hashed again
    // (only pieces around a change are hashed: those that are not one run of the old file)...
    expect(next.stats.bytesReusedInPlace).toBeGreaterThan(0.8 * next.stats.bytesReused);
    // ...and the parts of the big entries that changed (a release added at their end) were
    // found by their content up to the change: not compressed again.
    expect(next.stats.bytesReused - next.stats.bytesReusedInPlace).toBeGreaterThan(MAX_PIECE);

    const full = await publish(join(tmp.path, 'full'), world.source(), { full: true });
    expect(full.stats.keysReused).toBe(0);
    same(next, full);
    expect(await fileHashes(next.dir)).toEqual(await fileHashes(full.dir));
    expect(await readFile(next.tarball)).toEqual(await readFile(full.tarball));
  });

  it('read and write a bucket in slices of keys: memory bounded by the slice, bytes as one read', async () => {
    // ~6 keys a bucket: slices of 2 cut most buckets into three reads per data kind.
    const world = new World(1500);
    const sliced = await publish(join(tmp.path, 'sliced'), world.source(), { sliceKeys: 2 });
    expect(world.largestAsk).toBe(2);
    const whole = await publish(join(tmp.path, 'whole'), world.source(), { sliceKeys: 10_000 });
    expect(world.largestAsk).toBeGreaterThan(2);
    same(sliced, whole);
    expect(await readFile(sliced.tarball)).toEqual(await readFile(whole.tarball));

    // The next day in slices reuses what did not change and still equals a full snapshot.
    for (let i = 0; i < 30; i++) world.change(i * 47);
    world.meta = { serial: 2, unixTimestamp: 1_700_086_400 };
    const next = await publish(join(tmp.path, 'sliced'), world.source(), { sliceKeys: 2 });
    expect(world.largestAsk).toBeLessThanOrEqual(2);
    expect(next.stats.keysRendered).toBe(30 * 4);
    same(next, await publish(join(tmp.path, 'full'), world.source(), { full: true }));
  });

  it('re-render what the previous snapshot cannot vouch for: another code version, a damaged file or tarball', async () => {
    const world = new World(1500);
    const out = join(tmp.path, 'out');
    const first = await publish(out, world.source());
    world.change(3);
    world.meta = { serial: 2, unixTimestamp: 1_700_000_001 };
    const full = await publish(join(tmp.path, 'full'), world.source(), { full: true });

    // Another version of the caller's rendering code: nothing is reused.
    const bumped = await publish(out, world.source('v2'));
    expect(bumped.stats.keysReused).toBe(0);
    expect(bumped.stats.bytesReused).toBe(0);
    same(bumped, full);

    // A bucket file of the previous snapshot changed on disk (same size): its keys are rendered
    // again, and a tarball that no longer matches its .sha256 gives no pieces.
    const out2 = join(tmp.path, 'out2');
    const base = await publish(out2, new World(1500).source());
    expect(base.id).toBe(first.id);
    const victim = join(base.dir, 'wheel', '00.json');
    const bytes = await readFile(victim);
    bytes[bytes.length - 3] = bytes[bytes.length - 3] === 0x20 ? 0x21 : 0x20;
    await writeFile(victim, bytes);
    const tarball = await readFile(base.tarball);
    tarball[tarball.length - 20] = tarball[tarball.length - 20]! ^ 1;
    await writeFile(base.tarball, tarball);
    const repaired = await publish(out2, world.source());
    expect(repaired.stats.bytesReused).toBe(0);
    expect(repaired.stats.keysRendered).toBeGreaterThan(4);
    same(repaired, full);

    // The bucket file alone damaged, the tarball intact: the file's keys are rendered again and
    // none of its old pieces is taken by place (they would hold the bytes before the damage).
    const out3 = join(tmp.path, 'out3');
    const base3 = await publish(out3, new World(1500).source());
    const victim3 = join(base3.dir, 'wheel', '00.json');
    const bytes3 = await readFile(victim3);
    bytes3[bytes3.length - 3] = bytes3[bytes3.length - 3] === 0x20 ? 0x21 : 0x20;
    await writeFile(victim3, bytes3);
    const fileOnly = await publish(out3, world.source());
    expect(fileOnly.stats.bytesReusedInPlace).toBeGreaterThan(0);
    same(fileOnly, full);

    // A key's recorded length edited in the reuse data: the lengths of that file's records no
    // longer add up to its size, so no entry is copied from it (the offsets would be wrong).
    const out4 = join(tmp.path, 'out4');
    const base4 = await publish(out4, new World(1500).source());
    const entriesPath = join(out4, '.reuse', `${base4.id}.entries`);
    const lines = (await readFile(entriesPath, 'utf8')).split('\n');
    const block = lines.findIndex((l) => l.startsWith('B\twheel\t00\t'));
    const at = lines.findIndex((l, i) => i > block && l.startsWith('E\t') && Number(l.split('\t')[3]) > 0);
    expect(block).toBeGreaterThan(0);
    expect(lines.slice(block + 1, at).every((l) => l.startsWith('E\t'))).toBe(true);
    const f = lines[at]!.split('\t');
    f[3] = String(Number(f[3]) + 1);
    lines[at] = f.join('\t');
    await writeFile(entriesPath, lines.join('\n'));
    const edited = await publish(out4, world.source());
    expect(edited.stats.keysRendered).toBeGreaterThan(4);
    same(edited, full);
  });

  it('unpacks with GNU tar, Python tarfile and nix-prefetch-url --unpack to the same tree', async () => {
    const world = new World(3000);
    const result = await publish(join(tmp.path, 'out'), world.source());
    // The pieces are many independent deflate runs in one gzip member.
    expect(result.stats.bytesCompressed).toBeGreaterThan(1 << 20);
    const x = join(tmp.path, 'x');
    await mkdir(x);
    execFileSync('tar', ['-xzf', result.tarball, '-C', x]);
    execFileSync('diff', ['-r', result.dir, join(x, result.id)]);
    const py = JSON.parse(
      runPython(`
import hashlib, json, tarfile
out = {}
with tarfile.open(${JSON.stringify(result.tarball)}, 'r:gz') as tf:
    for m in tf:
        if m.isfile():
            out[m.name] = hashlib.sha256(tf.extractfile(m).read()).hexdigest()
print(json.dumps(out))
`),
    ) as Record<string, string>;
    const ours = await fileHashes(result.dir);
    expect(py).toEqual(Object.fromEntries(Object.entries(ours).map(([k, v]) => [`${result.id}/${k}`, v])));
    if (!hasCommand('nix-prefetch-url')) throw new Error('nix-prefetch-url is needed for this test (Nix)');
    // What `fetchTarball { url; sha256; }` checks: the NAR hash of the unpacked top directory.
    const printed = execFileSync('nix-prefetch-url', ['--unpack', `file://${result.tarball}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
    expect(printed).toBe(result.narHashBase32);
  });
});

describe('retention', () => {
  it('keeps the newest N snapshots and never removes the one latest points to', async () => {
    const world = new World(300);
    const out = join(tmp.path, 'out');
    const ids: string[] = [];
    for (let serial = 1; serial <= 4; serial++) {
      world.meta = { serial, unixTimestamp: 1_700_000_000 + serial };
      world.change(serial);
      const r = await publish(out, world.source(), { keep: 2 });
      ids.push(r.id);
      if (serial >= 3) expect(r.stats.pruned).toEqual([ids[serial - 3]]);
    }
    const names = (await readdir(out)).filter((n) => /^\d+-/.test(n)).sort();
    expect(names).toEqual(
      [
        ids[2]!,
        `${ids[2]}.tar.gz`,
        `${ids[2]}.tar.gz.sha256`,
        ids[3]!,
        `${ids[3]}.tar.gz`,
        `${ids[3]}.tar.gz.sha256`,
      ].sort(),
    );
    expect((await readdir(join(out, '.reuse'))).sort()).toEqual(
      [`${ids[2]}.entries`, `${ids[2]}.pieces`, `${ids[3]}.entries`, `${ids[3]}.pieces`].sort(),
    );

    // latest moved back to the older one by hand: keep 1 keeps it, removes the newer.
    await unlink(join(out, 'latest'));
    await symlink(ids[2]!, join(out, 'latest'));
    const pruned = await pruneSnapshots(out, 1);
    expect(pruned).toEqual({ kept: [ids[2]], removed: [ids[3]] });
    expect(await readlink(join(out, 'latest'))).toBe(ids[2]);
    expect((await stat(join(out, ids[2]!, 'manifest.json'))).isFile()).toBe(true);
    await expect(pruneSnapshots(out, 0)).rejects.toThrow(/positive integer/);
  });
});

/** Starts kill-child.ts publishing into `outDir`; resolves once it printed `line`. */
function startChild(outDir: string, n: number, waitFor: RegExp) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'kill-child.ts'), outDir, String(n)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const seen = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (waitFor.test(out)) resolve();
    });
    child.on('exit', (code, signal) =>
      reject(new Error(`child exited (${code ?? signal}) early:\n${out}\n${err}`)),
    );
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, seen, exited };
}

/** A published snapshot is whole: every file its manifest lists has that hash; the tarball matches. */
async function checkWhole(outDir: string, id: string): Promise<void> {
  const manifest = JSON.parse(await readFile(join(outDir, id, 'manifest.json'), 'utf8')) as {
    files: Record<string, string>;
  };
  const hashes = await fileHashes(join(outDir, id));
  delete hashes['manifest.json'];
  expect(hashes).toEqual(manifest.files);
  expect(
    execFileSync('sha256sum', ['-c', `${id}.tar.gz.sha256`], { cwd: outDir, encoding: 'utf8' }),
  ).toContain(': OK');
}

describe('a publish killed with SIGKILL', () => {
  it('leaves the previous snapshot and latest intact, and the next run cleans up and publishes', async () => {
    const out = join(tmp.path, 'out');
    const world = new World(2000);
    const a = await publish(out, world.source());
    const before = await fileHashes(a.dir);

    // Killed while writing buckets, then killed after the last bucket (hashing, the tarball, the
    // renames: wherever it is then).
    for (const [at, delayMs] of [
      [/bucket 80\n/, 0],
      [/bucket ff\n/, 150],
    ] as const) {
      const run = startChild(out, 2500, at);
      await run.seen;
      await new Promise((r) => setTimeout(r, delayMs));
      run.child.kill('SIGKILL');
      await run.exited;
      const latest = await readlink(join(out, 'latest'));
      // Either the old snapshot, or (killed after `latest` moved) the new one, whole.
      if (latest === a.id) expect(await fileHashes(a.dir)).toEqual(before);
      await checkWhole(out, latest);
    }
    expect((await readdir(out)).some((n) => n.startsWith('.tmp-'))).toBe(true);

    const c = await publish(out, new World(2500).source());
    expect((await readdir(out)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    await checkWhole(out, c.id);
    const full = await publish(join(tmp.path, 'full'), new World(2500).source(), { full: true });
    same(c, full);
  });
});
