// driver.py reads output.log and result.json from a directory the untrusted setup.py can write
// (issue 10 §3). Its reading functions, run here by the host's Python on files made for real
// (a link to /dev/zero, a FIFO, a sparse 100 GB file, 100 MB of valid JSON): each is refused
// with a typed code at once, reading at most the cap plus one byte.
import { beforeAll, describe, expect, it } from 'vitest';
import { runDriverHarness } from './driver-harness';

// Makes each file, and reports what read_capped (result.json) and tail (output.log) did with it
// and how long it took.
const HARNESS = `
import json, resource, time
# 2 GiB at most: a reader that ignored its cap would fail here, not eat the machine's memory.
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

def make_json(p):
    with open(p, "w") as handle:
        handle.write('{"ok": {"install_requires": [')
        chunk = ", ".join(['"' + "x" * 98 + '"'] * 10000)
        for i in range(100):
            handle.write(chunk + (", " if i < 99 else ""))
        handle.write('], "setup_requires": [], "tests_require": [], "extras_require": {}, "python_requires": null}}')

cases = {
    "link-to-dev-zero": lambda p: os.symlink("/dev/zero", p),
    "fifo": os.mkfifo,
    "sparse-100-gb": lambda p: open(p, "wb").truncate(100 * 1000 ** 3),
    "json-100-mb": make_json,
    "small": lambda p: open(p, "w").write('{"ok": {}}'),
}
out = {}
for name, make in cases.items():
    p = os.path.join(work, name)
    make(p)
    out[name] = {"size": os.lstat(p).st_size}
    for fn in ("read_capped", "tail"):
        t = time.monotonic()
        try:
            r = driver.read_capped(p, driver.RESULT_CAP) if fn == "read_capped" else driver.tail(p)
            out[name][fn] = {"read": len(r) if fn == "read_capped" else len(r[0]), "size": None if fn == "read_capped" else r[1]}
        except driver.Untrusted as exc:
            out[name][fn] = {"code": exc.code, "message": str(exc)}
        out[name][fn]["seconds"] = time.monotonic() - t
print(json.dumps(out))
`;

interface Outcome {
  code?: string;
  message?: string;
  read?: number;
  size?: number | null;
  seconds: number;
}

let report: Record<string, { size: number; read_capped: Outcome; tail: Outcome }>;

beforeAll(async () => {
  report = await runDriverHarness('driver-files', HARNESS);
});

describe('driver.py reading what setup.py could have replaced', () => {
  it('refuses a link (to /dev/zero) without following it', () => {
    for (const fn of ['read_capped', 'tail'] as const) {
      expect(report['link-to-dev-zero']![fn]).toMatchObject({
        code: 'sandbox-output-invalid',
        message: 'link-to-dev-zero is a symbolic link',
      });
      expect(report['link-to-dev-zero']![fn].seconds).toBeLessThan(1);
    }
  });

  it('refuses a FIFO without blocking on it', () => {
    for (const fn of ['read_capped', 'tail'] as const) {
      expect(report.fifo![fn]).toMatchObject({ code: 'sandbox-output-invalid' });
      expect(report.fifo![fn].message).toMatch(/^fifo is not a regular file/);
      expect(report.fifo![fn].seconds).toBeLessThan(1);
    }
  });

  it('reads no more of a sparse 100 GB file than the cap (result) or the tail (output)', () => {
    const sparse = report['sparse-100-gb']!;
    expect(sparse.size).toBe(100 * 1000 ** 3);
    expect(sparse.read_capped).toMatchObject({
      code: 'sandbox-output-too-large',
      message: 'sparse-100-gb is larger than 1048576 bytes',
    });
    expect(sparse.tail).toMatchObject({ read: 4000, size: 100 * 1000 ** 3 });
    for (const fn of ['read_capped', 'tail'] as const) expect(sparse[fn].seconds).toBeLessThan(1);
  });

  it('refuses 100 MB of valid JSON as too large, having read at most the cap plus one byte', () => {
    const json = report['json-100-mb']!;
    expect(json.size).toBeGreaterThan(100_000_000);
    expect(json.read_capped).toMatchObject({ code: 'sandbox-output-too-large' });
    expect(json.read_capped.seconds).toBeLessThan(1);
    expect(report.small!.read_capped).toMatchObject({ read: 10 });
  });
});
