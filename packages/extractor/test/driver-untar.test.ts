// driver.py unpacks each sdist once per build (issue 11 §1). Its fast tar reader (fast_untar) must
// leave exactly the tree Python's tarfile loop leaves — same files, bytes, directories, modes and
// times; links, devices and names outside the tree skipped — and hand every shape it does not read
// itself back to that loop. Here the host's Python makes real archives of every shape with
// tarfile (pax, GNU and ustar headers; gzip, bzip2 and none; hostile names; broken archives) and
// unpacks each twice with driver.unpack: once as it runs, once with fast_untar turned off.
import { beforeAll, describe, expect, it } from 'vitest';
import { runDriverHarness } from './driver-harness';

const HARNESS = `
import gzip, hashlib, io, json, shutil, stat, tarfile, time
START = time.time() - 5
# In the sandbox the driver is not root in its namespace (its own uid mapped to itself), so
# tarfile never changes owners there; run as root here, it would.
tarfile.TarFile.chown = lambda *args, **kwargs: None

def member(name, data=None, kind=tarfile.REGTYPE, mode=0o644, mtime=1600000000.25, **attrs):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, mtime
    for k, v in attrs.items():
        setattr(info, k, v)
    if data is not None:
        info.size = len(data)
        return info, io.BytesIO(data)
    return info, None

def tree_members(n=40):
    out = [member("pkg-1.0", kind=tarfile.DIRTYPE, mode=0o755),
           member("pkg-1.0/setup.py", b"from setuptools import setup\\nsetup(name='pkg')\\n"),
           member("pkg-1.0/PKG-INFO", b"Metadata-Version: 1.0\\nName: pkg\\n", mtime=1500000000),
           member("pkg-1.0/empty.txt", b""),
           member("pkg-1.0/run.sh", b"#!/bin/sh\\n", mode=0o4755),
           member("pkg-1.0/secret", b"x", mode=0o000),
           member("pkg-1.0/ro", kind=tarfile.DIRTYPE, mode=0o555),
           member("pkg-1.0/ro/inside.txt", b"under a read-only directory", mode=0o444),
           member("pkg-1.0/big.bin", bytes(range(256)) * 4099)]
    for i in range(n):
        out.append(member("pkg-1.0/data/d%02d/f%03d.json" % (i % 7, i), ("{\\"i\\": %d}" % i).encode() * (i + 1)))
    return out

def write(name, members, fmt=tarfile.PAX_FORMAT, mode="w:gz", **kw):
    p = os.path.join(work, name)
    with tarfile.open(p, mode, format=fmt, **kw) as t:
        for info, data in members:
            t.addfile(info, data)
    return p

long_dir = "pkg-1.0/" + "/".join(["a-rather-long-directory-name-%d" % i for i in range(5)])
cases = {}
cases["pax.tar.gz"] = write("pax.tar.gz", tree_members())
cases["gnu-long-names.tar.gz"] = write("gnu-long-names.tar.gz", tree_members(10) + [
    member(long_dir + "/module.py", b"long name"),
    member(long_dir + "/link", kind=tarfile.SYMTYPE, linkname="../" * 3 + "x" * 120)], fmt=tarfile.GNU_FORMAT)
cases["ustar-prefix.tar"] = write("ustar-prefix.tar", tree_members(10) + [
    member("pkg-1.0/" + "p" * 90 + "/" + "q" * 90 + "/file.txt", b"split between prefix and name", mtime=1600000000)],
    fmt=tarfile.USTAR_FORMAT, mode="w")
cases["links-devices-and-escapes.tar.gz"] = write("links-devices-and-escapes.tar.gz", tree_members(3) + [
    member("pkg-1.0/symlink", kind=tarfile.SYMTYPE, linkname="setup.py"),
    member("pkg-1.0/hardlink", kind=tarfile.LNKTYPE, linkname="pkg-1.0/setup.py"),
    member("pkg-1.0/fifo", kind=tarfile.FIFOTYPE),
    member("pkg-1.0/char", kind=tarfile.CHRTYPE, devmajor=1, devminor=3),
    member("/etc/absolute", b"outside"),
    member("../escape", b"outside"),
    member("pkg-1.0/../../escape2", b"outside"),
    member("./", kind=tarfile.DIRTYPE, mode=0o750),
    member("pkg-1.0/v7-dir/", kind=tarfile.AREGTYPE, mode=0o711),
    member("pkg-1.0/v7-dir/f", b"in a v7 directory"),
    member("pkg-1.0/setup.py", b"# the second setup.py wins\\n")])
# os.makedirs("…/sub/..") fails in tarfile's loop: an error both ways, the same error
cases["dot-dot-inside.tar.gz"] = write("dot-dot-inside.tar.gz", tree_members(3) + [member("pkg-1.0/sub/../inside", b"x")])
cases["no-pax.tar.gz"] = write("no-pax.tar.gz", [member(n.name, d.getvalue() if d else None, kind=n.type, mode=n.mode, mtime=int(n.mtime)) for n, d in tree_members(20)], fmt=tarfile.USTAR_FORMAT)
# Shapes left to tarfile: it decides, and the tree (or the error) must be what it makes.
cases["bzip2.tar.bz2"] = write("bzip2.tar.bz2", tree_members(5), mode="w:bz2")
cases["pax-global-header.tar.gz"] = write("pax-global-header.tar.gz", tree_members(5), pax_headers={"comment": "global"})
cases["not-utf8-name.tar.gz"] = write("not-utf8-name.tar.gz", tree_members(3) + [
    member("pkg-1.0/caf\\udce9.txt", b"latin-1 name")], fmt=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape")
cases["base-256-mtime.tar.gz"] = write("base-256-mtime.tar.gz", tree_members(3) + [member("pkg-1.0/before-1970", b"u", mtime=-1000)], fmt=tarfile.GNU_FORMAT)
cases["file-over-directory.tar.gz"] = write("file-over-directory.tar.gz", tree_members(3) + [member("pkg-1.0/data", b"a file where a directory is")])
whole = open(cases["pax.tar.gz"], "rb").read()
cases["truncated.tar.gz"] = os.path.join(work, "truncated.tar.gz")
open(cases["truncated.tar.gz"], "wb").write(whole[: len(whole) // 2])
plain = gzip.decompress(whole)
broken = bytearray(plain); broken[512 * 3 + 10] ^= 0x55
cases["bad-checksum-later.tar"] = os.path.join(work, "bad-checksum-later.tar")
open(cases["bad-checksum-later.tar"], "wb").write(bytes(broken))
cases["not-a-tar.tar.gz"] = os.path.join(work, "not-a-tar.tar.gz")
open(cases["not-a-tar.tar.gz"], "wb").write(gzip.compress(b"this is not a tar archive" * 100))

def snapshot(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            os.chmod(p, st.st_mode | 0o700) if stat.S_ISDIR(st.st_mode) else None
            digest = None
            if stat.S_ISREG(st.st_mode):
                os.chmod(p, st.st_mode | 0o600)
                digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
            # directories the unpacking made on its own get the time of the run
            mtime = st.st_mtime if st.st_mtime < START else "now"
            out[os.path.relpath(p, root)] = [stat.filemode(st.st_mode), mtime, st.st_size if digest else None, digest]
    st = os.lstat(root)
    out["."] = [stat.filemode(st.st_mode), st.st_mtime if st.st_mtime < START else "now"]
    return out

def unpack_once(path, fast):
    driver.SRC, driver.FILENAME = path, os.path.basename(path)
    dest = os.path.join(work, "out")
    used = {"fast": None}
    real = driver.fast_untar
    def tracked(root, safe):
        if not fast:
            raise driver.FastUntarFallback("turned off")
        try:
            real(root, safe)
            used["fast"] = "used"
        except driver.FastUntarFallback as exc:
            used["fast"] = "fallback: %s" % exc
            raise
        except Exception as exc:
            used["fast"] = "error: %s" % type(exc).__name__
            raise
    driver.fast_untar = tracked
    try:
        try:
            root = driver.unpack(dest)
            result = {"tree": snapshot(root)}
        except Exception as exc:
            result = {"error": "%s: %s" % (type(exc).__name__, exc)}
    finally:
        driver.fast_untar = real
        if os.path.exists(dest):
            for d, dirs, files in os.walk(dest):
                os.chmod(d, 0o700)
            shutil.rmtree(dest)
    result["fast"] = used["fast"]
    return result

report = {}
for name, path in cases.items():
    a, b = unpack_once(path, True), unpack_once(path, False)
    report[name] = {"fast": a["fast"], "same": {k: v for k, v in a.items() if k != "fast"} == {k: v for k, v in b.items() if k != "fast"},
                    "files": len(a.get("tree", {})), "error": a.get("error"), "tarfileError": b.get("error"),
                    "tree": a.get("tree")}
print(json.dumps(report))
`;

interface Case {
  fast: string | null;
  same: boolean;
  files: number;
  error: string | null;
  tarfileError: string | null;
  tree: Record<string, [string, number | string, number | null, string | null]> | null;
}

let report: Record<string, Case>;

beforeAll(async () => {
  report = await runDriverHarness('driver-untar', HARNESS);
});

describe('driver.py unpacking an sdist', () => {
  it('leaves the tree tarfile leaves, on every shape of archive', () => {
    for (const [name, c] of Object.entries(report)) {
      expect({ name, same: c.same }).toEqual({ name, same: true });
    }
  });

  it('reads the common shapes itself: pax, GNU long names, ustar prefixes, links and escapes', () => {
    for (const name of [
      'pax.tar.gz',
      'gnu-long-names.tar.gz',
      'ustar-prefix.tar',
      'links-devices-and-escapes.tar.gz',
      'no-pax.tar.gz',
    ]) {
      expect({ name, fast: report[name]?.fast }).toEqual({ name, fast: 'used' });
      expect(report[name]?.files).toBeGreaterThan(5);
    }
    const tree = report['links-devices-and-escapes.tar.gz']?.tree ?? {};
    // links and devices skipped, escapes skipped, the v7 directory a directory, the last setup.py kept
    for (const skipped of ['pkg-1.0/symlink', 'pkg-1.0/hardlink', 'pkg-1.0/fifo', 'pkg-1.0/char', 'escape']) {
      expect(tree[skipped]).toBeUndefined();
    }
    expect(tree['pkg-1.0/v7-dir']?.[0]).toBe('drwx--x--x');
    expect(tree['pkg-1.0/run.sh']?.[0]).toBe('-rwxr-xr-x');
    expect(tree['pkg-1.0/secret']?.[0]).toBe('-rw-------');
    expect(tree['pkg-1.0/ro']?.[0]).toBe('drwxr-xr-x');
    expect(tree['pkg-1.0/setup.py']?.[2]).toBe('# the second setup.py wins\n'.length);
    // pax keeps the fraction of a second
    expect(report['pax.tar.gz']?.tree?.['pkg-1.0/setup.py']?.[1]).toBe(1600000000.25);
  });

  it('hands what it does not read to tarfile, which decides alike', () => {
    const fallback: Record<string, RegExp> = {
      'bzip2.tar.bz2': /compression/,
      'pax-global-header.tar.gz': /member type/,
      'not-utf8-name.tar.gz': /encoding/,
      'base-256-mtime.tar.gz': /base-256/,
      'file-over-directory.tar.gz': /IsADirectoryError/,
      'truncated.tar.gz': /truncated|zlib/,
      'bad-checksum-later.tar': /checksum/,
      'not-a-tar.tar.gz': /checksum|number|truncated/,
    };
    for (const [name, reason] of Object.entries(fallback)) {
      expect({ name, fast: report[name]?.fast }).toEqual({ name, fast: expect.stringMatching(reason) });
    }
    // where tarfile fails, the error is its own
    expect(report['truncated.tar.gz']?.error).toMatch(/ReadError/);
    expect(report['file-over-directory.tar.gz']?.error).toMatch(/IsADirectoryError/);
    expect(report['not-a-tar.tar.gz']?.error).toMatch(/ReadError/);
    // an error of the system in the fast reader: tarfile's loop meets it and decides (3.11's
    // fails on "sub/..", 3.13's goes on)
    expect(report['dot-dot-inside.tar.gz']?.fast).toMatch(/^fallback: FileExistsError/);
    // a bad header after the first ends the archive for tarfile: the members before it are there
    expect(report['bad-checksum-later.tar']?.error).toBeNull();
    expect(report['bzip2.tar.bz2']?.files).toBeGreaterThan(5);
  });
});
