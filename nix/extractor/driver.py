"""Nix builder for one sdist: unpack it, run extract.py under each interpreter, write $out/result.json.

Runs as the derivation's builder inside the Nix build sandbox (no network, no host
environment, an empty /build as the only writable place).  The sdist is unpacked once, into a
tree made read-only; every interpreter gets its own writable view of it (an overlay whose writes
land in its own tmpfs, else a copy) and runs as a child process with rlimits
(CPU seconds, address space, processes, file size) and a wall-clock timeout that
kills its whole process group.  A child's failure is recorded as a typed error in
the result; the builder itself fails only if it cannot do its own job, so Nix
caches every outcome of a (sdist, extractor, interpreter set, limits) tuple.

Each interpreter runs as `python -s -S -B extract.py --limits=… <dir> <result> <path...>`: no site
module, so none of the packages installed in the interpreter's own site-packages is importable
(host mode also covers those directories with an empty one); sys.path is the standard library
plus `path`, the setuptools shipped for that interpreter.  The child's environment is built here
from nothing (no PYTHONPATH, no PYTHONHOME), so `-E` is not needed: it would only drop
PYTHONHASHSEED=0, which keeps set and dict order, and so the results, the same on every run.

Environment (derivation attributes): out, src, filename, extractor, pythons (JSON
{"27": {"python": path, "path": [dir, ...], "prefix": dir, "wheels": [wheel, ...]}}), wallSeconds,
cpuSeconds, memoryMiB, maxProcesses, maxOutputBytes, parallelism, backend, backendPath.

Build dependencies (issue 11): `wheels` are the build requirements of the sdist for that Python,
resolved by the worker against the crawled index and added to the store by the sha256 the index
published (fixed-output paths: nothing is fetched here).  Each interpreter unpacks them into its
own directory (on its own tmpfs, like the sdist), which comes first on its sys.path: a hostile
build dependency runs exactly where setup.py runs, and sees only what setup.py sees.
`backend` (a PEP 517 `build-backend`, "" for none): extract.py calls its
`prepare_metadata_for_build_wheel` instead of running setup.py.
"""
import ctypes
import errno
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zlib

ENV = os.environ
OUT = ENV["out"]
SRC = ENV["src"]
FILENAME = ENV["filename"]
EXTRACT_PY = os.path.join(ENV["extractor"], "extract.py")
PYTHONS = json.loads(ENV["pythons"])
WALL = float(ENV.get("wallSeconds", "60"))
CPU = int(ENV.get("cpuSeconds", "30"))
MEMORY = int(ENV.get("memoryMiB", "1024")) * 1024 * 1024
PROCESSES = int(ENV.get("maxProcesses", "64"))
OUTPUT = int(ENV.get("maxOutputBytes", str(1024 * 1024)))
PARALLELISM = max(1, int(ENV.get("parallelism", "3")))
BACKEND = ENV.get("backend", "")
BACKEND_PATH = ENV.get("backendPath", "[]")
# What one interpreter's directory (the unpacked sdist, its TMPDIR, what it writes) may hold.
DISK = int(ENV.get("diskMiB", "512")) * 1024 * 1024
TOP = ENV.get("NIX_BUILD_TOP", "/build")
# /tmp and /dev/shm, shared by the interpreters of the build
SHARED_TMP = 64 * 1024 * 1024
TAIL = 4000
# One interpreter's result.json: real ones are a few kB; nine at this cap stay under the 16 MiB
# runSandbox accepts for the derivation's whole result.json.
RESULT_CAP = 1024 * 1024
# The driver's own limits (soft; the hard ones leave room for what the interpreters set on
# themselves): it reads what the untrusted code wrote, and holds at most the capped results.
DRIVER_MEMORY = 1024 * 1024 * 1024
DRIVER_FSIZE = 32 * 1024 * 1024
TIMES = {}
# seconds spent unpacking, and making each interpreter's view of the unpacked tree ($out/timings.json)
PREP = {"unpack": 0.0, "view": 0.0}
PREP_LOCK = threading.Lock()


def unpack(dest):
    """Unpack the sdist into dest: regular files and directories only, none outside dest.

    Links are never created: tar link members are skipped, and so are zip entries whose Unix
    mode is S_IFLNK (zipfile would write them as files holding the target).  In the pipeline an
    sdist with a link out of its tree never gets here: readSdistStaticMetadata refuses it first
    (archive-link; packages/archive/src/tar/scan-sdist.ts, for tar and zip)."""
    os.makedirs(dest)
    root = os.path.realpath(dest)

    def safe(name):
        # Lexical: nothing here creates a link, so no path can be redirected by an earlier member
        # (realpath per member cost ~1 ms each on a deep tree of thousands of files).
        target = os.path.normpath(os.path.join(root, name))
        return target == root or target.startswith(root + os.sep)

    lower = FILENAME.lower()
    if lower.endswith(".zip"):
        import zipfile
        with zipfile.ZipFile(SRC) as archive:
            for info in archive.infolist():
                if stat.S_ISLNK(info.external_attr >> 16):
                    continue
                if safe(info.filename):
                    archive.extract(info, root)
    else:
        # The common tar shapes (gzip or none; ustar, pax per-file headers, GNU long names) by
        # fast_untar; anything else, or anything it is unsure of, by tarfile from the start.
        try:
            fast_untar(root, safe)
            return root
        except FastUntarFallback:
            shutil.rmtree(root)
            os.makedirs(root)
        # One pass over the stream ("r|*"): random access ("r:*") decompresses a .tar.gz twice,
        # once to list the members and once more to extract them.  As extractall does, the
        # directories get their mode and time last, deepest first (a 0o555 directory in the
        # archive must stay writable while its files are extracted).
        import tarfile
        dirs = []
        with tarfile.open(SRC, "r|*") as archive:
            for m in archive:
                if not ((m.isfile() or m.isdir()) and safe(m.name)):
                    continue
                m.mode = (m.mode | 0o600) & 0o755
                archive.extract(m, root, set_attrs=not m.isdir())
                if m.isdir():
                    dirs.append(m)
        dirs.sort(key=lambda m: m.name, reverse=True)
        for m in dirs:
            target = os.path.join(root, m.name)
            os.utime(target, (m.mtime, m.mtime))
            os.chmod(target, m.mode)
    return root


class FastUntarFallback(Exception):
    """fast_untar met something it leaves to tarfile (which then unpacks the sdist from the start)."""


class _TarStream(object):
    """The uncompressed bytes of SRC, read forward: gzip (one member, as tarfile's stream mode
    reads it) or a plain tar.  Any other compression is left to tarfile."""
    CHUNK = 1 << 20

    def __init__(self, handle):
        self.handle = handle
        head = handle.read(6)
        handle.seek(0)
        if head.startswith(b"\x1f\x8b\x08"):
            self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif head.startswith((b"BZh", b"\x5d\x00\x00\x80", b"\xfd7zXZ")):
            raise FastUntarFallback("compression")
        else:
            self.inflate = None
        self.buf = b""
        self.pos = 0
        self.pending = b""
        self.done = False

    def _more(self):
        if self.inflate is None:
            data = self.handle.read(self.CHUNK)
            if not data:
                self.done = True
            return data
        try:
            if not self.pending:
                self.pending = self.handle.read(self.CHUNK)
                if not self.pending:
                    self.done = True
                    return self.inflate.flush()
            data = self.inflate.decompress(self.pending, 4 * self.CHUNK)
            self.pending = self.inflate.unconsumed_tail
            if self.inflate.eof:
                self.done = True
            return data
        except zlib.error:
            raise FastUntarFallback("zlib")

    def read(self, n):
        """Exactly n bytes (a truncated archive is left to tarfile, for its own error)."""
        end = self.pos + n
        if end <= len(self.buf):
            self.pos = end
            return self.buf[end - n:end]
        parts = [self.buf[self.pos:]]
        have = len(parts[0])
        while have < n:
            if self.done:
                raise FastUntarFallback("truncated")
            data = self._more()
            parts.append(data)
            have += len(data)
        self.buf = b"".join(parts)
        self.pos = n
        return self.buf[:n]

    def copy_to(self, fd, size):
        """Writes the next `size` bytes to fd, then skips the block's padding."""
        left = size
        while left:
            piece = self.read(min(left, self.CHUNK))
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view):]
            left -= len(piece)
        self.read(-size % 512)


_PAX_RECORD = re.compile(br"(\d+) ([^=]+)=")


def _tar_number(field):
    if field[:1] in (b"\x80", b"\xff"):
        raise FastUntarFallback("base-256 number")
    try:
        text = field.split(b"\0", 1)[0].decode("ascii").strip()
        return int(text or "0", 8)
    except (UnicodeDecodeError, ValueError):
        raise FastUntarFallback("number")


def _tar_text(field):
    try:
        return field.split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise FastUntarFallback("name encoding")


def _tar_header(block):
    """(name, mode, size, mtime, type) of a 512-byte header block, read as tarfile.frombuf reads
    it; None at the end of the archive (a zero block)."""
    if block.count(b"\0") == 512:
        return None
    if _tar_number(block[148:156]) != 256 + sum(block[:148]) + sum(block[156:]):
        raise FastUntarFallback("checksum")
    kind = block[156:157]
    name = _tar_text(block[0:100])
    if kind == b"\0" and name.endswith("/"):
        kind = b"5"
    if kind == b"5":
        name = name.rstrip("/")
    prefix = _tar_text(block[345:500])
    if prefix and kind not in (b"L", b"K", b"S"):
        name = prefix + "/" + name
    return name, _tar_number(block[100:108]), _tar_number(block[124:136]), _tar_number(block[136:148]), kind


def _tar_pax(data):
    """The records of a pax extended header, as tarfile._proc_pax parses them (UTF-8 only)."""
    records = {}
    pos = 0
    while True:
        match = _PAX_RECORD.match(data, pos)
        if not match:
            return records
        length = int(match.group(1))
        if length == 0:
            raise FastUntarFallback("pax record")
        try:
            keyword = match.group(2).decode("utf-8")
            value = data[match.end(2) + 1:match.start(1) + length - 1].decode("utf-8")
        except UnicodeDecodeError:
            raise FastUntarFallback("pax encoding")
        if keyword == "hdrcharset" or keyword.startswith("GNU."):
            raise FastUntarFallback("pax " + keyword)
        records[keyword] = value
        pos += length


def fast_untar(root, safe):
    """Unpacks SRC into root as the tarfile loop of unpack() does (same files, directories,
    modes and times; links and special files skipped; names outside root skipped), about twice as
    fast on trees of thousands of files: headers are parsed here, files written with a few system
    calls.  Of a pax header it uses path, size and mtime, as the loop does (the other keywords
    change nothing it writes); hdrcharset and GNU sparse keywords go to tarfile.
    It only takes the shapes whose reading is plain: regular files and directories in ustar/GNU
    headers, pax per-file headers and GNU long names; anything else raises FastUntarFallback
    (nothing kept: unpack() starts again with tarfile)."""
    try:
        _fast_untar(root, safe)
    except FastUntarFallback:
        raise
    except Exception as exc:
        # An error of the system (a name that cannot be made, a full disk): what tarfile's loop
        # does then depends on its version; it meets the same and decides.
        raise FastUntarFallback("%s: %s" % (type(exc).__name__, exc))


def _fast_untar(root, safe):
    dirs = []
    made = set()
    regular = (b"0", b"\0", b"7")
    with open(SRC, "rb") as handle:
        stream = _TarStream(handle)
        while True:
            header = _tar_header(stream.read(512))
            if header is None:
                break
            name, mode, size, mtime, kind = header
            pax = None
            long_name = None
            while kind in (b"x", b"L", b"K"):
                body = stream.read(size + (-size % 512))[:size]
                if kind == b"x":
                    if pax is not None:
                        raise FastUntarFallback("two pax headers")
                    pax = _tar_pax(body)
                elif kind == b"L":
                    if long_name is not None:
                        raise FastUntarFallback("two long names")
                    long_name = _tar_text(body)
                header = _tar_header(stream.read(512))
                if header is None:
                    raise FastUntarFallback("end after an extended header")
                name, mode, size, mtime, kind = header
            if long_name is not None:
                if pax is not None:
                    raise FastUntarFallback("pax and long name")
                name = long_name
            if pax:
                try:
                    if "path" in pax:
                        name = pax["path"].rstrip("/")
                    if "size" in pax:
                        size = int(pax["size"])
                    if "mtime" in pax:
                        mtime = float(pax["mtime"])
                except ValueError:
                    raise FastUntarFallback("pax number")
            if kind in regular:
                pass
            elif kind in (b"1", b"2", b"3", b"4", b"6"):
                # links and special files: skipped, and tarfile reads no data for them
                continue
            elif kind != b"5":
                raise FastUntarFallback("member type %r" % (kind,))
            if not safe(name):
                if kind != b"5":
                    stream.read(size + (-size % 512))
                continue
            mode = (mode | 0o600) & 0o755
            target = os.path.join(root, name).rstrip("/")
            upper = os.path.dirname(target)
            if upper and upper not in made:
                if not os.path.exists(upper):
                    os.makedirs(upper)
                made.add(upper)
            if kind == b"5":
                try:
                    os.mkdir(target, 0o700)
                except FileExistsError:
                    if not os.path.isdir(target):
                        raise FastUntarFallback("a directory over a file")
                dirs.append((name, mode, mtime))
                continue
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            try:
                stream.copy_to(fd, size)
                try:
                    os.chmod(fd, mode)
                    os.utime(fd, (mtime, mtime))
                except Exception:
                    # tarfile lets some of these pass and not others: its call
                    raise FastUntarFallback("mode or time")
            finally:
                os.close(fd)
    dirs.sort(key=lambda d: d[0], reverse=True)
    for name, mode, mtime in dirs:
        target = os.path.join(root, name)
        os.utime(target, (mtime, mtime))
        os.chmod(target, mode)


def unpack_wheels(wheels, dest):
    """Unpack the build-dependency wheels into dest (one directory for all, as pip installs them
    into one site-packages): regular files only, none outside dest.  A wheel's `<name>.data/purelib`
    and `platlib` go to the top, as an installer puts them; its scripts, headers and data do not."""
    import zipfile
    os.makedirs(dest)
    root = os.path.realpath(dest)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                name = info.filename
                if name.endswith("/") or stat.S_ISLNK(info.external_attr >> 16):
                    continue
                parts = name.split("/")
                if len(parts) > 2 and parts[0].endswith(".data"):
                    if parts[1] not in ("purelib", "platlib"):
                        continue
                    name = "/".join(parts[2:])
                target = os.path.realpath(os.path.join(root, name))
                if not target.startswith(root + os.sep):
                    continue
                if not os.path.isdir(os.path.dirname(target)):
                    os.makedirs(os.path.dirname(target))
                with archive.open(info) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    return root


def setup_dir(root):
    """The directory holding setup.py: the sdist's single top-level directory, else its root."""
    entries = [e for e in os.listdir(root) if not e.startswith(".")]
    if len(entries) == 1 and os.path.isdir(os.path.join(root, entries[0])):
        return os.path.join(root, entries[0])
    return root


def limits_argument():
    """The rlimits, for extract.py to set on itself first thing (soft = hard but for CPU seconds).

    Not a preexec_fn: that makes subprocess fork this threaded driver instead of vfork-ing it,
    ~12 ms more per interpreter here (page faults of the copy), and nothing of the sdist runs
    before extract.py has set them (it stops with sandbox-failed if it cannot)."""
    return "--limits=%d,%d,%d,%d" % (CPU, MEMORY, PROCESSES, OUTPUT)


class Untrusted(Exception):
    """A file the untrusted code could write is not what the driver accepts: a typed failure."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code


def open_untrusted(path):
    """Opens a file of the interpreter's directory, which setup.py can replace: never through a
    link (O_NOFOLLOW), never blocking (O_NONBLOCK: a FIFO opens at once, and is refused), and a
    regular file only.  Returns (fd, size); FileNotFoundError when there is none."""
    name = os.path.basename(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Untrusted("sandbox-output-invalid", "%s is a symbolic link" % name)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Untrusted("sandbox-output-invalid", "%s is not a regular file (mode %o)" % (name, st.st_mode))
        return fd, st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_at_most(fd, count):
    chunks, total = [], 0
    while total < count:
        chunk = os.read(fd, min(1 << 16, count - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_capped(path, cap):
    """The whole file if it holds at most `cap` bytes (read: at most cap + 1, whatever its size
    says), else sandbox-output-too-large."""
    fd, size = open_untrusted(path)
    try:
        data = b"" if size > cap else read_at_most(fd, cap + 1)
    finally:
        os.close(fd)
    if size > cap or len(data) > cap:
        raise Untrusted("sandbox-output-too-large", "%s is larger than %d bytes" % (os.path.basename(path), cap))
    return data


def tail(path):
    """The last TAIL bytes of the output (as text) and its size; ("", 0) when there is none."""
    try:
        fd, size = open_untrusted(path)
    except FileNotFoundError:
        return "", 0
    try:
        os.lseek(fd, max(0, size - TAIL), os.SEEK_SET)
        return read_at_most(fd, TAIL).decode("utf-8", "replace"), size
    finally:
        os.close(fd)


def error(code, log, tail_text=""):
    return {"error": {"code": code, "log": log, "tail": tail_text[-TAIL:]}}


BASE = os.path.join(TOP, "base")
# how each interpreter's view of the unpacked sdist is made: "overlay" or "copy" (view())
VIEW = {"method": None, "error": None}


def unpack_base():
    """Unpacks the sdist once per build, into a tmpfs of DISK bytes made read-only afterwards:
    the lower layer of every interpreter's view (view()).  Returns None, or the error result
    every interpreter gets (the archive is broken for all of them alike)."""
    os.makedirs(BASE)
    mount("tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,mode=755" % DISK)
    t0 = time.monotonic()
    try:
        unpack(os.path.join(BASE, "src"))
    except Exception as exc:
        if disk_full(BASE):
            return error("sandbox-disk-full", "the unpacked sdist is larger than %d bytes" % DISK)
        return error("sandbox-failed", "cannot unpack the sdist: %s" % (exc,))
    finally:
        PREP["unpack"] = time.monotonic() - t0
    # Read-only from now on, for the interpreters (no capability in this namespace) as for the driver.
    mount(None, BASE, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return None


def overlay(lower, work):
    """An overlay of the read-only unpacked tree: reads from `lower`, writes (and deletions, as
    whiteouts) into the interpreter's own tmpfs; another interpreter never sees them.  Unprivileged
    overlayfs in a user namespace (Linux 5.11+); `userxattr` keeps its bookkeeping in user.*
    xattrs, the only ones such a mount may set (tmpfs has them since Linux 6.6)."""
    upper, scratch, merged = (os.path.join(work, n) for n in (".upper", ".overlay-work", "src"))
    for d in (upper, scratch, merged):
        os.makedirs(d)
    last = None
    for extra in (",userxattr", ""):
        try:
            mount("overlay", merged, "overlay", MS_NOSUID | MS_NODEV,
                  "lowerdir=%s,upperdir=%s,workdir=%s%s" % (lower, upper, scratch, extra))
            return merged
        except OSError as exc:
            last = exc
    raise last


def view(work):
    """The interpreter's own writable view of the unpacked sdist, at work/src: an overlay of the
    read-only tree when the kernel allows one here, else a copy of it (made from the tree already
    unpacked: no second decompression).  Either way its writes land in its own tmpfs only."""
    lower = os.path.join(BASE, "src")
    t0 = time.monotonic()
    try:
        if VIEW["method"] != "copy":
            try:
                root = overlay(lower, work)
                VIEW["method"] = "overlay"
                return root
            except OSError as exc:
                VIEW["method"], VIEW["error"] = "copy", str(exc)
                for n in (".upper", ".overlay-work", "src"):
                    shutil.rmtree(os.path.join(work, n), ignore_errors=True)
        root = os.path.join(work, "src")
        shutil.copytree(lower, root)
        return root
    finally:
        with PREP_LOCK:
            PREP["view"] += time.monotonic() - t0


def run_one(key):
    work = os.path.join(TOP, "py" + key)
    os.makedirs(work)
    # Its own tmpfs of DISK bytes: a script that fills it fills only its own directory.
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,mode=700" % DISK)
    try:
        return run_in(key, work)
    finally:
        # The memory its files held goes back to the build at once (the overlay on it too).
        libc.umount2(os.path.join(work, "src").encode(), MNT_DETACH)
        libc.umount2(work.encode(), MNT_DETACH)


def disk_full(*paths):
    """Whether one of these filesystems (tmpfs of DISK or SHARED_TMP bytes) has no room left."""
    for p in paths:
        try:
            st = os.statvfs(p)
        except OSError:
            continue
        if st.f_bavail * st.f_frsize < 64 * 1024:
            return True
    return False


ACTIVE = set()
ACTIVE_LOCK = threading.Lock()


def sweep():
    """Kills every process reparented to the driver (PID 1 of the build's PID namespace) that is
    not an interpreter it started: what escaped an interpreter's process group and its extract.py
    (setsid, a parent killed).  Returns their pids.  Reaps only those (a waitpid(-1) here would
    take the exit status of an interpreter from the thread that waits for it)."""
    killed = []
    with ACTIVE_LOCK:
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in ACTIVE and int(name) != os.getpid():
                if kill_if_orphan(int(name)):
                    killed.append(int(name))
    return killed


def kill_if_orphan(pid):
    """Kills and reaps pid if it is a child of the driver; whether it was."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        if ppid != os.getpid():
            return False
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return True
    except (OSError, ValueError, IndexError):
        return False


def run_in(key, work):
    spec = PYTHONS[key]
    try:
        root = view(work)
    except Exception as exc:
        if disk_full(work):
            return error("sandbox-disk-full", "the unpacked sdist is larger than %d bytes" % DISK)
        return error("sandbox-failed", "cannot prepare the unpacked sdist: %s" % (exc,))
    path = list(spec.get("path", []))
    if spec.get("wheels"):
        try:
            path = [unpack_wheels(spec["wheels"], os.path.join(work, "build-deps"))] + path
        except Exception as exc:
            if disk_full(work):
                return error("sandbox-disk-full", "the build dependencies are larger than %d bytes" % DISK)
            return error("sandbox-failed", "cannot unpack the build dependencies: %s" % (exc,))
    mode = ["--pep517=" + BACKEND, "--backend-path=" + BACKEND_PATH] if BACKEND else []
    result_path = os.path.join(work, "result.json")
    log_path = os.path.join(work, "output.log")
    env = {
        "PATH": "/path-not-set",
        "HOME": "/homeless-shelter",
        "TMPDIR": work,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUTF8": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "SETUPTOOLS_USE_DISTUTILS": "local",
        # Fewer page faults (CPU time only: the results are the same): each of the ~6000 an
        # interpreter takes while importing setuptools costs ~15 us of system time in this VM.
        # Python's own allocator touches its arenas page by page; glibc's malloc with
        # transparent huge pages (madvise) maps 2 MiB at a time: ~2300 faults, ~-30% CPU overall.
        # glibc learns the THP mode from /sys/kernel/mm/transparent_hugepage (a sandbox path of
        # interpreters-host.nix); without it these two variables change nothing.
        # (PYTHONMALLOC is 3.6+; 2.7 ignores it and still gets huge pages for what it mallocs.)
        "PYTHONMALLOC": "malloc",
        "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
    }
    started = time.monotonic()
    with open(log_path, "wb") as log, ACTIVE_LOCK:
        child = subprocess.Popen(
            [spec["python"], "-s", "-S", "-B", EXTRACT_PY, limits_argument()] + mode
            + [setup_dir(root), result_path] + path,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=work, start_new_session=True, close_fds=True,
        )
        # Under the lock since before it started: sweep() never takes it for an escaped process.
        ACTIVE.add(child.pid)
    timed_out = False
    try:
        child.wait(timeout=WALL)
    except subprocess.TimeoutExpired:
        timed_out = True
    # The process group outlives the child when the script forked: kill it in every case.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        pass
    child.wait()
    with ACTIVE_LOCK:
        ACTIVE.discard(child.pid)
    sweep()
    elapsed = time.monotonic() - started
    TIMES[key] = elapsed
    try:
        output, output_size = tail(log_path)
    except Untrusted as exc:
        return error(exc.code, str(exc))
    status = child.returncode
    if timed_out:
        return error("sandbox-timeout", "wall time limit of %gs reached" % WALL, output)
    if status in (-signal.SIGXCPU, -signal.SIGKILL) and elapsed < WALL:
        if status == -signal.SIGXCPU:
            return error("sandbox-timeout", "CPU time limit of %ds reached" % CPU, output)
    if output_size >= OUTPUT or status == -signal.SIGXFSZ:
        return error("sandbox-output-too-large", "output limit of %d bytes reached" % OUTPUT, output)
    try:
        payload = json.loads(read_capped(result_path, RESULT_CAP).decode("utf-8"))
    except Untrusted as exc:
        return error(exc.code, str(exc), output)
    except RecursionError:
        return error("sandbox-output-invalid", "result.json is nested too deeply", output)
    except (OSError, ValueError):
        if disk_full(work, "/tmp", "/dev/shm"):
            return error("sandbox-disk-full", "no room left to write (%d bytes per interpreter)" % DISK, output)
        if status is not None and status < 0:
            return error("sandbox-failed", "interpreter killed by signal %d" % -status, output)
        return error("sandbox-failed", "interpreter exited with status %s and no result" % status, output)
    if not isinstance(payload, dict) or len(payload) != 1 or not ("ok" in payload or "error" in payload):
        return error("sandbox-output-invalid", "unexpected result shape", output)
    if "error" in payload and isinstance(payload["error"], dict):
        payload["error"]["tail"] = (payload["error"].get("tail") or output)[-TAIL:]
    return payload


def assert_sandboxed():
    """Run nothing of the sdist outside the Nix sandbox.

    The probe (nix/probe.nix) proved this nix-build sandboxes its builds before the first
    extraction; these are its cheap checks again, on every build, so that a Nix changed since (a
    wrapper, a configuration) is caught before the sdist is even unpacked: not root, PID 1 of its
    own PID namespace, no network interface but loopback.  runSandbox reads the message."""
    problems = []
    if os.getuid() == 0 or os.geteuid() == 0:
        problems.append("runs as root")
    if os.getpid() != 1:
        problems.append("pid %d, not 1: no PID namespace" % os.getpid())
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        problems.append("network interfaces %s" % ",".join(interfaces))
    if problems:
        sys.stderr.write("pypi-graph: not in a sandbox: %s\n" % "; ".join(problems))
        sys.exit(3)


CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE = 4
libc = ctypes.CDLL(None, use_errno=True)


def checked(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, "%s: %s" % (what, os.strerror(code)))


def mount(source, target, fstype, flags, data=None):
    checked(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), "mount %s" % target)


def confine():
    """A user and mount namespace of the driver's own, inside the sandbox, where nothing the
    interpreters write reaches the host's disk.  In Nix's chroot, /tmp and /nix/store (where $out
    is staged) are directories on the host's disk, writable by the build user; here:
    - /nix/store is read-only but for $out, which only the driver writes;
    - /tmp and /dev/shm are tmpfs of SHARED_TMP bytes;
    - each interpreter's directory in /build is a tmpfs of DISK bytes (run_one).
    tmpfs pages count against the build's memory cgroup.  The build user maps to itself: no
    privilege is gained outside; inside, the capabilities stay with the driver, which becomes
    non-dumpable so that the interpreters (same uid) cannot ptrace it to use them.  Must run
    while the driver has one thread (unshare of a user namespace requires it)."""
    uid, gid = os.getuid(), os.getgid()
    checked(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)),
                       ("gid_map", "%d %d 1" % (gid, gid))):
        with open("/proc/self/" + name, "w") as handle:
            handle.write(text)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(OUT)
    mount(OUT, OUT, None, MS_BIND)
    mount("/nix/store", "/nix/store", None, MS_BIND | MS_REC)
    mount(None, "/nix/store", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    for path in ("/tmp", "/dev/shm"):
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,mode=1777" % SHARED_TMP)
    checked(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def limit_self():
    """The driver's own rlimits, set before it starts anything: soft limits for itself, hard
    limits high enough for the interpreters' own (extract.py raises its soft limits to them)."""
    for which, soft, theirs in ((resource.RLIMIT_AS, DRIVER_MEMORY, MEMORY),
                                (resource.RLIMIT_FSIZE, DRIVER_FSIZE, OUTPUT)):
        resource.setrlimit(which, (soft, max(soft, theirs)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_all(keys):
    """run_one for every key, PARALLELISM at a time, in the order given (a thread per slot, as
    ThreadPoolExecutor.map would, without importing concurrent.futures and logging at every build)."""
    results = {}
    failures = []
    pending = list(keys)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not pending or failures:
                    return
                key = pending.pop(0)
            try:
                result = run_one(key)
            except BaseException as exc:
                with lock:
                    failures.append(exc)
                return
            with lock:
                results[key] = result

    threads = [threading.Thread(target=worker) for _ in range(min(PARALLELISM, len(keys)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return dict((k, results[k]) for k in keys)


def main():
    assert_sandboxed()
    try:
        confine()
    except OSError as exc:
        # Without it the interpreters' writes are not capped: refused like a missing sandbox.
        sys.stderr.write("pypi-graph: not in a sandbox: cannot confine the build (nested user and mount "
                         "namespaces): %s\n" % (exc,))
        sys.exit(3)
    limit_self()
    started = time.monotonic()
    # Newest first: they import the largest setuptools and take longest, so the short runs (2.7)
    # fill the cores at the end instead of one long run finishing alone on an idle machine.
    keys = sorted(PYTHONS, key=lambda k: (len(k), k), reverse=True)
    broken = unpack_base()
    if broken is not None:
        results = dict((k, broken) for k in keys)
    else:
        results = run_all(keys)
    sweep()
    with open(os.path.join(OUT, "result.json"), "w") as handle:
        json.dump(results, handle, sort_keys=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.path.join(OUT, "timings.json"), "w") as handle:
        json.dump({"total": time.monotonic() - started, "unpack": PREP["unpack"], "view": PREP["view"],
                   "viewMethod": VIEW["method"], "viewError": VIEW["error"],
                   "interpreters": TIMES, "cpu": usage.ru_utime + usage.ru_stime,
                   "driverCpu": own.ru_utime + own.ru_stime}, handle, sort_keys=True)
    print("extracted %s in %.2fs (interpreters: %.2fs user, %.2fs system, %d page faults; wall %s)" % (
        FILENAME, time.monotonic() - started, usage.ru_utime, usage.ru_stime, usage.ru_minflt,
        " ".join("%s %.2fs" % (k, TIMES[k]) for k in keys if k in TIMES)))


if __name__ == "__main__":
    main()
