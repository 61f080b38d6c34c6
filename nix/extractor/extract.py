# -*- coding: utf-8 -*-
"""Run one sdist's setup.py with a patched setup() and record its dependency keywords.

Runs under every interpreter from Python 2.7 to 3.13, so: no f-strings, no
keyword-only arguments, no `nonlocal`.  Called by driver.py inside the Nix build
sandbox as

    python -s -S -B extract.py [--limits=CPU,AS,NPROC,FSIZE] <directory holding setup.py> <result file> [<directory> ...]

Without setup.py (but with setup.cfg or pyproject.toml) it runs what setuptools' build backend
runs then, `from setuptools import setup; setup()`.

    python -s -S -B extract.py [--limits=…] --pep517=<backend> --backend-path=<JSON list> <dir> <result> [<directory> ...]

runs the PEP 517 backend instead (issue 11: its build dependencies are among the directories):
`prepare_metadata_for_build_wheel` (else `build_wheel`, whose METADATA is read) in the sdist's
directory, and reports the METADATA's Requires-Dist, Requires-Python and Provides-Extra as
`{"ok": {..., "requires_dist": [...], "provides_extra": [...]}}`.

`--limits`: the rlimits, which it sets on itself before anything else (driver.py).  `-S`: the
interpreter's own site-packages (whatever is installed on the host) are never on sys.path; the
directories after the result file (the setuptools we ship for this interpreter) are appended
instead, after the standard library, where site-packages would be.

and writes one JSON object to <result file>:

    {"ok": {"install_requires": [...], "setup_requires": [...], "tests_require": [...],
            "extras_require": {"<extra>[:<marker>]": [...]}, "python_requires": "<spec>" | null}}
    {"error": {"code": "<failure code>", "log": "<last traceback line>", "tail": "<traceback>"}}

The keywords are read from the Distribution object that setup() built, after
setup.cfg was parsed (so declarative configuration counts) and after setuptools
moved `; marker` requirements into `extras_require[":marker"]`.  No command runs:
`run_commands` is replaced, and `setup_requires` are recorded, never fetched.
"""
import errno
import json
import os
import sys
import traceback

FIELDS = ("install_requires", "setup_requires", "tests_require", "extras_require", "python_requires")
TAIL_CHARS = 4000

captured = {}
raw_kwargs = {}


def flatten(value):
    """A requirement list as setuptools accepts it (str with lines, nested lists) -> list of str."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        out = []
        for item in value:
            out.extend(flatten(item))
        return out
    text = to_text(value)
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def to_text(value):
    if sys.version_info[0] == 2 and isinstance(value, unicode):  # noqa: F821
        return value.encode("utf-8")
    return str(value)


def record(dist):
    if captured:
        return
    def get(name):
        value = getattr(dist, name, None)
        if value is None or value == [] or value == {}:
            value = raw_kwargs.get(name, value)
        return value
    extras = get("extras_require") or {}
    result = {
        "install_requires": flatten(get("install_requires")),
        "setup_requires": flatten(get("setup_requires")),
        "tests_require": flatten(get("tests_require")),
        "extras_require": dict((to_text(k), flatten(v)) for k, v in dict(extras).items()),
        "python_requires": None,
    }
    python_requires = get("python_requires")
    if python_requires is not None and to_text(python_requires).strip():
        result["python_requires"] = to_text(python_requires).strip()
    captured.update(result)


def patch():
    # setuptools first: it replaces distutils.core.Distribution by its own and, on
    # Python >= 3.12, makes `import distutils` resolve to setuptools._distutils.
    import setuptools
    import setuptools.dist
    import distutils.core
    import distutils.dist

    def fetch_build_eggs(self, requires):
        return []
    setuptools.dist.Distribution.fetch_build_eggs = fetch_build_eggs
    if hasattr(setuptools, "_install_setup_requires"):
        setuptools._install_setup_requires = lambda attrs: None

    def run_commands(self):
        record(self)
    for cls in (distutils.dist.Distribution, setuptools.dist.Distribution):
        cls.run_commands = run_commands

    def wrap(original):
        def setup(**attrs):
            if not raw_kwargs:
                raw_kwargs.update(attrs)
            dist = original(**attrs)
            if dist is not None:
                record(dist)
            return dist
        return setup
    setuptools.setup = wrap(setuptools.setup)
    distutils.core.setup = wrap(distutils.core.setup)


def last_line(exc_type, exc):
    lines = traceback.format_exception_only(exc_type, exc)
    return lines[-1].strip() if lines else exc_type.__name__


def classify(exc_type, exc):
    if issubclass(exc_type, SyntaxError):
        return "python-incompatible"
    if issubclass(exc_type, MemoryError):
        return "sandbox-memory"
    if issubclass(exc_type, ImportError):
        message = str(exc)
        if getattr(exc, "name", None) or message.startswith("No module named"):
            return "missing-build-dependency"
        return "setup-py-error"
    if issubclass(exc_type, EnvironmentError):
        code = getattr(exc, "errno", None)
        if code == errno.EFBIG:
            return "sandbox-output-too-large"
        if code == errno.EAGAIN:
            return "sandbox-failed"  # the process limit: fork bomb or thread flood
        if code == errno.ENOMEM:
            return "sandbox-memory"
        if code in (errno.ENOSPC, errno.EDQUOT):
            return "sandbox-disk-full"
    return "setup-py-error"


def write(result_path, payload):
    data = json.dumps(payload, sort_keys=True)
    fd = os.open(result_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 420)
    os.write(fd, data.encode("utf-8") if not isinstance(data, bytes) else data)
    os.close(fd)


def error(code, log, tail=""):
    return {"error": {"code": code, "log": log[:TAIL_CHARS], "tail": tail[-TAIL_CHARS:]}}


# What setuptools' build backend runs for an sdist without setup.py (build_meta
# `_open_setup_script`): setup.cfg and pyproject.toml then say everything.
STAND_IN = b"from setuptools import setup; setup()"


def declares_project(setup_dir):
    """Whether pyproject.toml has a [project] table (PEP 621), which setuptools reads from 61 on."""
    try:
        with open(os.path.join(setup_dir, "pyproject.toml"), "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except EnvironmentError:
        return False
    return any(line.split("#", 1)[0].strip() == "[project]" for line in text.splitlines())


def run(setup_dir):
    setup_py = os.path.join(setup_dir, "setup.py")
    stand_in = not os.path.isfile(setup_py)
    if stand_in and not any(os.path.isfile(os.path.join(setup_dir, f)) for f in ("setup.cfg", "pyproject.toml")):
        return error("no-setup-py", "no setup.py in the sdist")
    os.chdir(setup_dir)
    sys.path.insert(0, setup_dir)
    sys.argv = [setup_py, "install"]
    if stand_in:
        source = STAND_IN
    else:
        with open(setup_py, "rb") as handle:
            source = handle.read()
    try:
        patch()
    except Exception:
        exc_type, exc = sys.exc_info()[:2]
        return error("sandbox-failed", "cannot patch setuptools: " + last_line(exc_type, exc), traceback.format_exc())
    if stand_in and declares_project(setup_dir):
        import setuptools
        major = setuptools.__version__.split(".")[0]
        # An older setuptools ignores [project]: setup() would answer "no dependencies".
        if not major.isdigit() or int(major) < 61:
            return error("missing-build-dependency",
                         "setuptools>=61 reads [project] of pyproject.toml; this Python has setuptools "
                         + setuptools.__version__)
    namespace = {"__name__": "__main__", "__file__": setup_py, "__builtins__": __builtins__}
    try:
        code = compile(source, setup_py, "exec")
        exec(code, namespace)
    except SystemExit:
        exc = sys.exc_info()[1]
        if not captured:
            status = exc.code
            if status is None or status == 0:
                return error("setup-py-error", "setup.py exited before calling setup()")
            return error("setup-py-error", "SystemExit: %s" % (status,))
    except BaseException:
        exc_type, exc = sys.exc_info()[:2]
        if not captured or issubclass(exc_type, (MemoryError, EnvironmentError)):
            return error(classify(exc_type, exc), last_line(exc_type, exc), traceback.format_exc())
    if not captured:
        return error("setup-py-error", "setup.py did not call setup()")
    return {"ok": dict(captured)}


def import_backend(spec, setup_dir, backend_path):
    """PEP 517: `module` or `module:object`; backend-path entries come first on sys.path."""
    for entry in reversed(backend_path):
        sys.path.insert(0, os.path.join(setup_dir, entry))
    module_name, _, attr = spec.partition(":")
    __import__(module_name.strip())
    backend = sys.modules[module_name.strip()]
    for part in attr.strip().split(".") if attr.strip() else []:
        backend = getattr(backend, part)
    return backend


def metadata_fields(text):
    """Requires-Dist, Requires-Python and Provides-Extra of a METADATA file."""
    import email.parser
    message = email.parser.Parser().parsestr(text)
    def values(name):
        return [" ".join(v.split()) for v in (message.get_all(name) or [])]
    python = values("Requires-Python")
    return {
        "install_requires": [], "setup_requires": [], "tests_require": [], "extras_require": {},
        "python_requires": python[0] if python else None,
        "requires_dist": values("Requires-Dist"),
        "provides_extra": values("Provides-Extra"),
    }


def run_pep517(setup_dir, spec, backend_path):
    os.chdir(setup_dir)
    sys.argv = [os.path.join(setup_dir, "setup.py")]
    out_dir = os.path.join(os.path.dirname(setup_dir.rstrip(os.sep)), "pep517-out")
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    try:
        backend = import_backend(spec, setup_dir, backend_path)
        hook = getattr(backend, "prepare_metadata_for_build_wheel", None)
        if hook is not None:
            name = hook(out_dir, {})
            with open(os.path.join(out_dir, name, "METADATA"), "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        else:
            import zipfile
            name = backend.build_wheel(out_dir, {}, None)
            with zipfile.ZipFile(os.path.join(out_dir, name)) as wheel:
                inside = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
                if not inside:
                    return error("setup-py-error", "the wheel %s has no METADATA" % (name,))
                text = wheel.read(inside[0]).decode("utf-8", "replace")
    except SystemExit:
        exc = sys.exc_info()[1]
        return error("setup-py-error", "SystemExit: %s" % (exc.code,))
    except BaseException:
        exc_type, exc = sys.exc_info()[:2]
        return error(classify(exc_type, exc), last_line(exc_type, exc), traceback.format_exc())
    return {"ok": metadata_fields(text)}


def isolate(extra):
    """sys.path = the standard library + `extra`; the rest of what `site` does, without its paths.

    Python 3: site's own setquit/setcopyright/sethelper (importing site under -S runs nothing).
    Python 2.7 runs site.main() on import, so its site.py is executed without that call, for the
    same three functions; and sys.setdefaultencoding goes, as site.main() deletes it.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here] + list(extra)
    if sys.version_info[0] >= 3:
        import site
    else:
        site_py = os.path.join(os.path.dirname(os.__file__), "site.py")
        with open(site_py) as handle:
            lines = handle.read().splitlines()
        source = "\n".join("pass" if line == "main()" else line for line in lines) + "\n"
        site = type(sys)("site")
        site.__file__ = site_py
        exec(compile(source, site_py, "exec"), site.__dict__)
        if hasattr(sys, "setdefaultencoding"):
            del sys.setdefaultencoding
    site.setquit()
    site.setcopyright()
    site.sethelper()


def set_limits(spec):
    """--limits=<CPU s>,<address space bytes>,<processes>,<file bytes> (driver.py), soft = hard
    (CPU: SIGXCPU at the soft limit, SIGKILL 5 s later), before anything of the sdist runs."""
    import resource
    cpu, memory, processes, output = [int(x) for x in spec.split(",")]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


PR_SET_CHILD_SUBREAPER = 36


def descendants_left():
    """This process's children (as subreaper: everything the script left behind), as two lists:
    the running ones and the zombies (ended, never waited for: nothing to count, only to reap)."""
    me, running, zombies = os.getpid(), [], []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                (zombies if fields[0] == "Z" else running).append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return running, zombies


def guard(result_path):
    """From here on, the sdist's code runs in a child process; this one stays behind as its
    subreaper (every process the script leaves behind is reparented here when its parent ends)
    and, once the child has ended, kills and reaps what outlived it: then the result is
    sandbox-process-escaped, whatever the child wrote.  Else it ends as the child did (same
    status, same signal).  Returns in the child only.  Without prctl (no ctypes), it returns at
    once: driver.py still kills whatever escapes."""
    try:
        import ctypes
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            return
    except Exception:
        return
    pid = os.fork()
    if pid == 0:
        return
    status = os.waitpid(pid, 0)[1]
    escaped = []
    for _ in range(100):  # killing one reparents its own children here: until none is left
        running, zombies = descendants_left()
        if not running and not zombies:
            break
        for child in running + zombies:
            try:
                os.kill(child, 9)
                os.waitpid(child, 0)
            except OSError:
                pass
        escaped.extend(running)
    if escaped:
        write(result_path, error("sandbox-process-escaped",
                                 "%d process(es) outlived setup.py and were killed" % len(escaped)))
        os._exit(0)
    if os.WIFSIGNALED(status):
        import signal
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def main():
    args = sys.argv[1:]
    limits = None
    if args and args[0].startswith("--limits="):
        limits = args.pop(0)[len("--limits="):]
    backend, backend_path = None, []
    if args and args[0].startswith("--pep517="):
        backend = args.pop(0)[len("--pep517="):]
    if args and args[0].startswith("--backend-path="):
        backend_path = json.loads(args.pop(0)[len("--backend-path="):])
    setup_dir, result_path = os.path.abspath(args[0]), os.path.abspath(args[1])
    if limits is not None:
        try:
            set_limits(limits)
        except Exception:
            exc_type, exc = sys.exc_info()[:2]
            write(result_path, error("sandbox-failed", "cannot set the limits: " + last_line(exc_type, exc)))
            os._exit(0)
    guard(result_path)
    isolate([os.path.abspath(p) for p in args[2:]])
    try:
        payload = run_pep517(setup_dir, backend, backend_path) if backend else run(setup_dir)
    except MemoryError:
        payload = error("sandbox-memory", "MemoryError")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    write(result_path, payload)
    # Skip atexit handlers and threads the setup script may have left behind.
    os._exit(0)


if __name__ == "__main__":
    main()
