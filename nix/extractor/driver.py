"""Nix builder for one sdist: unpack it, run extract.py under each interpreter, write $out/result.json.

Runs as the derivation's builder inside the Nix build sandbox (no network, no host
environment, an empty /build as the only writable place).  Every interpreter gets
its own fresh copy of the unpacked sdist and runs as a child process with rlimits
(CPU seconds, address space, processes, file size) and a wall-clock timeout that
kills its whole process group.  A child's failure is recorded as a typed error in
the result; the builder itself fails only if it cannot do its own job, so Nix
caches every outcome of a (sdist, extractor, interpreter set, limits) tuple.

Environment (derivation attributes): out, src, filename, extractor, pythons (JSON
{"27": {"python": path, "pythonpath": str}}), wallSeconds, cpuSeconds, memoryMiB,
maxProcesses, maxOutputBytes, parallelism.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

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
PARALLELISM = max(1, int(ENV.get("parallelism", "4")))
TOP = ENV.get("NIX_BUILD_TOP", "/build")
TAIL = 4000
RESULT_CAP = 4 * 1024 * 1024


def unpack(dest):
    """Unpack the sdist into dest, refusing links and paths that leave dest."""
    os.makedirs(dest)
    root = os.path.realpath(dest)

    def safe(name):
        target = os.path.realpath(os.path.join(root, name))
        return target == root or target.startswith(root + os.sep)

    lower = FILENAME.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(SRC) as archive:
            for info in archive.infolist():
                if safe(info.filename):
                    archive.extract(info, root)
    else:
        with tarfile.open(SRC) as archive:
            members = [m for m in archive.getmembers() if (m.isfile() or m.isdir()) and safe(m.name)]
            for m in members:
                m.mode = (m.mode | 0o600) & 0o755
            archive.extractall(root, members)
    return root


def setup_dir(root):
    """The directory holding setup.py: the sdist's single top-level directory, else its root."""
    entries = [e for e in os.listdir(root) if not e.startswith(".")]
    if len(entries) == 1 and os.path.isdir(os.path.join(root, entries[0])):
        return os.path.join(root, entries[0])
    return root


def limits():
    os.setsid()
    resource.setrlimit(resource.RLIMIT_CPU, (CPU, CPU + 5))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES, PROCESSES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT, OUTPUT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def tail(path):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL))
            return handle.read().decode("utf-8", "replace"), size
    except OSError:
        return "", 0


def error(code, log, tail_text=""):
    return {"error": {"code": code, "log": log, "tail": tail_text[-TAIL:]}}


def run_one(key):
    spec = PYTHONS[key]
    work = os.path.join(TOP, "py" + key)
    try:
        root = unpack(os.path.join(work, "src"))
    except Exception as exc:  # the archive is broken for every interpreter alike
        return error("sandbox-failed", "cannot unpack the sdist: %s" % (exc,))
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
    }
    if spec.get("pythonpath"):
        env["PYTHONPATH"] = spec["pythonpath"]
    started = time.monotonic()
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [spec["python"], "-s", "-B", EXTRACT_PY, setup_dir(root), result_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=work, preexec_fn=limits, close_fds=True,
        )
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
    elapsed = time.monotonic() - started
    output, output_size = tail(log_path)
    status = child.returncode
    if timed_out:
        return error("sandbox-timeout", "wall time limit of %gs reached" % WALL, output)
    if status in (-signal.SIGXCPU, -signal.SIGKILL) and elapsed < WALL:
        if status == -signal.SIGXCPU:
            return error("sandbox-timeout", "CPU time limit of %ds reached" % CPU, output)
    if output_size >= OUTPUT or status == -signal.SIGXFSZ:
        return error("sandbox-output-too-large", "output limit of %d bytes reached" % OUTPUT, output)
    try:
        if os.path.getsize(result_path) > RESULT_CAP:
            return error("sandbox-output-too-large", "result larger than %d bytes" % RESULT_CAP, output)
        with open(result_path, "rb") as handle:
            payload = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        if status is not None and status < 0:
            return error("sandbox-failed", "interpreter killed by signal %d" % -status, output)
        return error("sandbox-failed", "interpreter exited with status %s and no result" % status, output)
    if not isinstance(payload, dict) or len(payload) != 1 or not ("ok" in payload or "error" in payload):
        return error("sandbox-output-invalid", "unexpected result shape", output)
    if "error" in payload and isinstance(payload["error"], dict):
        payload["error"]["tail"] = (payload["error"].get("tail") or output)[-TAIL:]
    return payload


def main():
    started = time.monotonic()
    keys = sorted(PYTHONS, key=lambda k: (len(k), k))
    with ThreadPoolExecutor(max_workers=min(PARALLELISM, len(keys))) as pool:
        results = dict(zip(keys, pool.map(run_one, keys)))
    os.makedirs(OUT)
    with open(os.path.join(OUT, "result.json"), "w") as handle:
        json.dump(results, handle, sort_keys=True)
    print("extracted %s in %.2fs" % (FILENAME, time.monotonic() - started))


if __name__ == "__main__":
    main()
