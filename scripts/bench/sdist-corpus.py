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


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "floor":
        floor(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: sdist-corpus.py gen <folder> <count> <salt> | floor <extract.py> <jobs.json>")
