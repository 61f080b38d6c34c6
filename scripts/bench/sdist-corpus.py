# -*- coding: utf-8 -*-
"""Helper of `pnpm bench sdist` (scripts/bench/sdist.ts); Python 3 standard library only.

    python3 sdist-corpus.py gen <folder> <count> <salt>
        writes <count> small sdists (.tar.gz) into <folder>, deterministic apart from <salt>,
        which goes into a comment of every setup.py (new bytes -> no Nix cache hit); prints a
        JSON list of {filename, style, static}.

    python3 sdist-corpus.py floor <extract.py> <jobs.json>
        jobs.json: {"sdists": [path, ...], "pythons": {"27": {"python": ..., "path": [...]}}}.
        For every sdist and key: unpacks it afresh (not timed) and runs
        `python -s -S -B extract.py <dir> <result> <path...>` directly on the host, as
        nix/extractor/driver.py
        runs it (same arguments and environment, no sandbox), one child at a time; prints JSON
        {sdist: {key: {"cpu": user+sys seconds of the child, "result": ...}}}.
"""
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile

STYLES = [
    "plain",
    "setup-cfg-only",
    "requirements-txt",
    "imports-own-package",
    "py2-only-syntax",
    "py3-only-syntax",
    "extras-with-markers",
    "static-pkg-info-2.2",
    "static-pep621",
    "static-pkg-info-2.2-extras",
]
STATIC = set(["static-pkg-info-2.2", "static-pep621", "static-pkg-info-2.2-extras"])
DEPS = ["requests", "six", "attrs", "click", "idna", "urllib3", "packaging", "pyyaml", "jinja2", "certifi"]


def deps(i, n=3):
    return ["%s>=%d.%d" % (DEPS[(i + k) % len(DEPS)], 1 + (i + k) % 3, (i * 7 + k) % 10) for k in range(n)]


def files_for(i, style, name, version, salt):
    head = "# bench salt %s\n# generated sdist %d (%s)\n" % (salt, i, style)
    reqs = deps(i)
    pkg = name.replace("-", "_")
    files = {pkg + "/__init__.py": "__version__ = %r\n" % version}
    if style == "plain":
        files["setup.py"] = head + (
            "from setuptools import setup\n"
            "setup(name=%r, version=%r, packages=[%r],\n"
            "      install_requires=%r, python_requires='>=2.7')\n" % (name, version, pkg, reqs))
    elif style == "setup-cfg-only":
        files["setup.py"] = head + "from setuptools import setup\nsetup()\n"
        files["setup.cfg"] = (
            "[metadata]\nname = %s\nversion = %s\n\n[options]\npackages = %s\n"
            "install_requires =\n%s\n\n[options.extras_require]\ntest =\n    pytest>=4\n"
            % (name, version, pkg, "".join("    %s\n" % r for r in reqs)))
    elif style == "requirements-txt":
        files["requirements.txt"] = "# runtime\n" + "\n".join(reqs) + "\n\n"
        files["setup.py"] = head + (
            "import os\nfrom setuptools import setup\n"
            "here = os.path.abspath(os.path.dirname(__file__))\n"
            "with open(os.path.join(here, 'requirements.txt')) as f:\n"
            "    requires = [l.strip() for l in f if l.strip() and not l.startswith('#')]\n"
            "setup(name=%r, version=%r, packages=[%r], install_requires=requires)\n" % (name, version, pkg))
    elif style == "imports-own-package":
        files[pkg + "/__init__.py"] = "import os, sys\n__version__ = %r\n" % version
        files["setup.py"] = head + (
            "from setuptools import setup, find_packages\n"
            "import %s\n"
            "setup(name=%r, version=%s.__version__, packages=find_packages(),\n"
            "      install_requires=%r, tests_require=['pytest'])\n" % (pkg, name, pkg, reqs))
    elif style == "py2-only-syntax":
        files["setup.py"] = head + (
            "from setuptools import setup\n"
            "print 'building %s'\n"
            "setup(name=%r, version=%r, packages=[%r], install_requires=%r)\n" % (name, name, version, pkg, reqs))
    elif style == "py3-only-syntax":
        files["setup.py"] = head + (
            "from setuptools import setup\n"
            "NAME = %r\n"
            "print(f'building {NAME}')\n"
            "setup(name=NAME, version=%r, packages=[%r], install_requires=%r,\n"
            "      python_requires='>=3.6')\n" % (name, version, pkg, reqs))
    elif style == "extras-with-markers":
        files["setup.py"] = head + (
            "import sys\nfrom setuptools import setup\n"
            "install = %r\n"
            "if sys.version_info < (3, 4):\n    install.append('enum34')\n"
            "setup(name=%r, version=%r, packages=[%r], install_requires=install + ['typing; python_version<\"3.5\"'],\n"
            "      extras_require={'test': ['pytest>=4', 'mock; python_version<\"3.3\"'],\n"
            "                      'win:sys_platform==\"win32\"': ['pywin32']})\n" % (reqs, name, version, pkg))
    else:
        # Trustworthy static metadata; setup.py agrees with it.
        extras = {"test": ["pytest>=6"]} if style == "static-pkg-info-2.2-extras" else {}
        files["setup.py"] = head + (
            "from setuptools import setup\n"
            "setup(name=%r, version=%r, packages=[%r], install_requires=%r, extras_require=%r,\n"
            "      python_requires='>=3.7')\n" % (name, version, pkg, reqs, extras))
        if style == "static-pep621":
            files["pyproject.toml"] = (
                "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
                "[project]\nname = %s\nversion = %s\nrequires-python = \">=3.7\"\ndependencies = [%s]\n"
                % (json.dumps(name), json.dumps(version), ", ".join(json.dumps(r) for r in reqs)))
        else:
            lines = ["Metadata-Version: 2.2", "Name: " + name, "Version: " + version,
                     "Requires-Python: >=3.7"]
            lines += ["Requires-Dist: " + r for r in reqs]
            for extra, rs in extras.items():
                lines.append("Provides-Extra: " + extra)
                lines += ["Requires-Dist: %s; extra == \"%s\"" % (r, extra) for r in rs]
            files["PKG-INFO"] = "\n".join(lines) + "\n"
    if "PKG-INFO" not in files:
        files["PKG-INFO"] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    return files


def gen(folder, count, salt):
    os.makedirs(folder, exist_ok=True)
    out = []
    for i in range(count):
        style = STYLES[i % len(STYLES)]
        name = "benchsdist-%s-%02d" % (style.replace(".", ""), i)
        version = "1.0.%d" % i
        top = "%s-%s" % (name, version)
        filename = top + ".tar.gz"
        files = files_for(i, style, name, version, salt)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            for arc in sorted(files):
                data = files[arc].encode("utf-8")
                info = tarfile.TarInfo("%s/%s" % (top, arc))
                info.size = len(data)
                info.mtime = 1700000000
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        with open(os.path.join(folder, filename), "wb") as f:
            f.write(buf.getvalue())
        out.append({"filename": filename, "style": style, "static": style in STATIC})
    print(json.dumps(out))


def floor(extract_py, jobs_path):
    with open(jobs_path) as f:
        jobs = json.load(f)
    out = {}
    for sdist in jobs["sdists"]:
        per = {}
        for key, spec in jobs["pythons"].items():
            work = tempfile.mkdtemp(prefix="bench-floor-")
            try:
                with tarfile.open(sdist) as tar:
                    tar.extractall(os.path.join(work, "src"))
                root = os.path.join(work, "src")
                entries = os.listdir(root)
                setup_dir = os.path.join(root, entries[0]) if len(entries) == 1 else root
                result = os.path.join(work, "result.json")
                env = {"PATH": "/path-not-set", "HOME": "/homeless-shelter", "TMPDIR": work,
                       "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
                       "PYTHONUTF8": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
                       "SETUPTOOLS_USE_DISTUTILS": "local", "PYTHONMALLOC": "malloc",
                       "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
                for extra in spec.get("path", []):
                    if not os.path.isdir(extra):
                        sys.exit("%s does not exist: build the shipped setuptools first" % extra)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                with open(os.path.join(work, "output.log"), "wb") as log:
                    subprocess.call([spec["python"], "-s", "-S", "-B", extract_py, setup_dir, result]
                                    + list(spec.get("path", [])),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=work)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                try:
                    with open(result) as f:
                        res = json.load(f)
                except Exception:
                    res = None
                per[key] = {"cpu": cpu, "result": res}
            finally:
                shutil.rmtree(work, ignore_errors=True)
        out[os.path.basename(sdist)] = per
    print(json.dumps(out))


# --- real-shaped corpus (`pnpm bench sdist --real`, issue 11 §1) -----------------------------
# A cycle of 20 sdists: 11 with trustworthy static metadata (the 35 of 64 real projects answered
# statically, ~55%) and 9 that need setup.py, shaped like real ones: a few kB to ~20 MB, trees of
# thousands of files and deep folders (a botocore-like data package), setup.py that imports its
# package, reads files, or walks the tree with find_packages.
REAL_CYCLE = [
    "static-pkg-info-2.2", "big-data-package", "static-pep621", "static-pep621", "imports-own-package",
    "static-pkg-info-2.2", "reads-files", "static-pep621", "find-packages-tree", "static-pkg-info-2.2-extras",
    "static-pep621", "medium-data", "static-pkg-info-2.2", "plain", "static-pep621",
    "requirements-txt", "static-pkg-info-2.2-extras", "py2-only-syntax", "setup-cfg-only", "static-pkg-info-2.2",
]


def noise(rnd, n):
    """n characters of text that compresses like real data files (json, docs) do: poorly enough."""
    return "%x" % rnd.getrandbits(4 * n) if n > 0 else ""


def real_files(i, kind, name, version, salt):
    import random
    rnd = random.Random(i)
    pkg = name.replace("-", "_")
    reqs = deps(i, 2 + i % 3)
    head = "# bench salt %s\n# real-shaped sdist %d (%s)\n" % (salt, i, kind)
    base = {
        "plain": "plain", "requirements-txt": "requirements-txt", "py2-only-syntax": "py2-only-syntax",
        "setup-cfg-only": "setup-cfg-only", "static-pkg-info-2.2": "static-pkg-info-2.2",
        "static-pep621": "static-pep621", "static-pkg-info-2.2-extras": "static-pkg-info-2.2-extras",
    }
    if kind in base:
        files = files_for(i, base[kind], name, version, salt)
        files["README.rst"] = noise(rnd, 3000 + rnd.randint(0, 20000))
        return files
    files = {"README.rst": noise(rnd, 6000), "LICENSE": "MIT\n" + noise(rnd, 1000),
             "PKG-INFO": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)}
    files[pkg + "/__init__.py"] = "import os\n__version__ = %r\n" % version
    if kind == "big-data-package":
        # botocore: a package of ~7000 JSON files, four levels deep, ~16-20 MB compressed;
        # setup.py imports the package for its version and walks the tree for package_data
        for svc in range(350):
            for v in range(4):
                for f in ("service-2.json", "paginators-1.json", "waiters-2.json",
                          "endpoint-rule-set-1.json", "examples-1.json"):
                    body = json.dumps({"svc": svc, "ops": [
                        {"name": "Op%d" % k, "doc": noise(rnd, rnd.randint(100, 3000))} for k in range(3)]})
                    files["%s/data/svc%03d/20%02d-0%d-01/%s" % (pkg, svc, 10 + v, v + 1, f)] = body
        files["setup.py"] = head + (
            "import os\nfrom setuptools import setup, find_packages\nimport %s\n"
            "here = os.path.dirname(os.path.abspath(__file__))\n"
            "data = []\n"
            "for root, dirs, names in os.walk(os.path.join(here, %r, 'data')):\n"
            "    data += [os.path.relpath(os.path.join(root, n), os.path.join(here, %r)) for n in names]\n"
            "setup(name=%r, version=%s.__version__, packages=find_packages(exclude=['tests*']),\n"
            "      package_data={%r: data}, install_requires=%r, python_requires='>= 3.7')\n"
            % (pkg, pkg, pkg, name, pkg, pkg, reqs))
    elif kind == "medium-data":
        for k in range(800):
            files["tests/data/set%02d/case%03d.txt" % (k % 40, k)] = noise(rnd, rnd.randint(500, 6000))
        files["setup.py"] = head + (
            "import io, os, re\nfrom setuptools import setup, find_packages\n"
            "here = os.path.dirname(os.path.abspath(__file__))\n"
            "with io.open(os.path.join(here, %r, '__init__.py'), encoding='utf-8') as f:\n"
            "    version = re.search(r\"__version__ = '([^']+)'\", f.read()).group(1)\n"
            "with io.open(os.path.join(here, 'README.rst'), encoding='utf-8') as f:\n"
            "    long_description = f.read()\n"
            "setup(name=%r, version=version, long_description=long_description,\n"
            "      packages=find_packages(exclude=['tests', 'tests.*']), install_requires=%r,\n"
            "      extras_require={'test': ['pytest>=6', 'hypothesis']})\n" % (pkg, name, reqs))
    elif kind == "find-packages-tree":
        # a library of ~1500 modules in ~150 packages, 5 levels deep
        for a in range(5):
            for b in range(5):
                for c in range(6):
                    d = "%s/sub%d/mod%d/part%d" % (pkg, a, b, c)
                    for p in ("%s/sub%d" % (pkg, a), "%s/sub%d/mod%d" % (pkg, a, b), d):
                        files[p + "/__init__.py"] = ""
                    for m in range(10):
                        files["%s/m%d.py" % (d, m)] = "# " + noise(rnd, rnd.randint(200, 4000)) + "\nX = 1\n"
        files["setup.py"] = head + (
            "from setuptools import setup, find_packages\n"
            "pkgs = find_packages()\n"
            "assert len(pkgs) > 100, pkgs\n"
            "setup(name=%r, version=%r, packages=pkgs, install_requires=%r,\n"
            "      extras_require={'speed': ['cython>=0.29; platform_python_implementation==\"CPython\"']})\n"
            % (name, version, reqs))
    elif kind == "imports-own-package":
        files[pkg + "/version.py"] = "VERSION = (1, 0, %d)\n" % i
        files[pkg + "/__init__.py"] = "from .version import VERSION\n__version__ = '.'.join(map(str, VERSION))\n"
        for k in range(40):
            files["%s/mod%02d.py" % (pkg, k)] = "# " + noise(rnd, 2000) + "\n"
        files["setup.py"] = head + (
            "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"
            "from setuptools import setup, find_packages\nimport %s\n"
            "setup(name=%r, version=%s.__version__, packages=find_packages(), install_requires=%r,\n"
            "      tests_require=['pytest'], python_requires='>=2.7')\n" % (pkg, name, pkg, reqs))
    elif kind == "reads-files":
        files["requirements/base.txt"] = "\n".join(reqs) + "\n"
        files["requirements/extra.txt"] = "-r base.txt\nrich>=10\n"
        files["VERSION"] = version + "\n"
        files["setup.py"] = head + (
            "import os\nfrom setuptools import setup\n"
            "here = os.path.dirname(os.path.abspath(__file__))\n"
            "def lines(p):\n"
            "    with open(os.path.join(here, p)) as f:\n"
            "        return [l.strip() for l in f if l.strip() and not l.startswith(('#', '-r'))]\n"
            "with open(os.path.join(here, 'VERSION')) as f:\n    version = f.read().strip()\n"
            "setup(name=%r, version=version, packages=[%r], install_requires=lines('requirements/base.txt'),\n"
            "      extras_require={'rich': lines('requirements/extra.txt')})\n" % (name, pkg))
    return files


def gen_real(folder, count, salt):
    os.makedirs(folder, exist_ok=True)
    out = []
    for i in range(count):
        kind = REAL_CYCLE[i % len(REAL_CYCLE)]
        name = "realshaped-%s-%02d" % (kind.replace(".", ""), i)
        version = "1.0.%d" % i
        top = "%s-%s" % (name, version)
        filename = top + ".tar.gz"
        files = real_files(i, kind, name, version, salt)
        path = os.path.join(folder, filename)
        with tarfile.open(path, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            dirs = set()
            for arc in sorted(files):
                parts = arc.split("/")[:-1]
                for k in range(1, len(parts) + 1):
                    d = "/".join(parts[:k])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo("%s/%s" % (top, d))
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        info.mtime = 1700000000
                        tar.addfile(info)
                data = files[arc].encode("utf-8")
                info = tarfile.TarInfo("%s/%s" % (top, arc))
                info.size = len(data)
                info.mtime = 1700000000
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        out.append({"filename": filename, "style": kind, "static": kind in STATIC,
                    "files": len(files), "bytes": os.path.getsize(path)})
    print(json.dumps(out))


# --- the seed's approach (`pnpm bench sdist --real`, row A): the builder of its derivation -------
# Runs as the Nix builder (python3.11 -I -S -B sdist-corpus.py seed-build): the seven interpreters
# at once, each in a process of its own that unpacks the sdist into its own directory and then
# runs extract.py (the patched setup()), as the seed did; no namespaces, tmpfs or overlays.
SEED_LIMITS = "--limits=30,%d,64,%d" % (1024 * 1024 * 1024, 1024 * 1024)
SEED_ENV = {"PATH": "/path-not-set", "HOME": "/homeless-shelter", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0", "SETUPTOOLS_USE_DISTUTILS": "local", "PYTHONMALLOC": "malloc",
            "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


def seed_one(key):
    env = os.environ
    spec = json.loads(env["pythons"])[key]
    work = os.path.join(env.get("NIX_BUILD_TOP", "/build"), "py" + key)
    os.makedirs(work)
    root = os.path.join(work, "src")
    os.makedirs(root)
    # GNU tar (a sandbox path of this bench only), as the seed's builder unpacked
    subprocess.check_call(["/usr/bin/tar", "-xzf", env["src"], "-C", root, "--no-same-owner"],
                          env={"PATH": "/usr/bin"})
    entries = [e for e in os.listdir(root) if not e.startswith(".")]
    setup_dir = os.path.join(root, entries[0]) if len(entries) == 1 and os.path.isdir(
        os.path.join(root, entries[0])) else root
    child_env = dict(SEED_ENV, TMPDIR=work)
    with open(os.path.join(work, "output.log"), "wb") as log:
        status = subprocess.call([spec["python"], "-s", "-S", "-B", env["extractPy"], SEED_LIMITS, setup_dir,
                                  os.path.join(work, "result.json")] + list(spec.get("path", [])),
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 env=child_env, cwd=work)
    sys.exit(status)


def seed_build():
    env = os.environ
    top = env.get("NIX_BUILD_TOP", "/build")
    keys = sorted(json.loads(env["pythons"]))
    procs = dict((k, subprocess.Popen([os.environ["driverPython"], "-I", "-S", "-B", os.path.abspath(__file__), "seed-one", k]))
                 for k in keys)
    results = {}
    for k, proc in procs.items():
        proc.wait()
        try:
            with open(os.path.join(top, "py" + k, "result.json")) as f:
                payload = json.load(f)
            if "error" in payload:
                payload["error"]["tail"] = ""
            results[k] = payload
        except Exception:
            results[k] = {"error": {"code": "sandbox-failed", "log": "no result", "tail": ""}}
    os.makedirs(env["out"])
    with open(os.path.join(env["out"], "result.json"), "w") as f:
        json.dump(results, f, sort_keys=True)


if __name__ == "__main__":
    if sys.argv[1] == "seed-build":
        seed_build()
        sys.exit(0)
    if sys.argv[1] == "seed-one":
        seed_one(sys.argv[2])
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "gen-real":
        gen_real(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "floor":
        floor(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: sdist-corpus.py gen <folder> <count> <salt> | floor <extract.py> <jobs.json>")
