#!/usr/bin/env python3
"""Writes test/fixtures/build-deps/ (see its README.md): build tools written for the tests, as
wheels, and sdists that cannot tell their dependencies without them (issue 11 §2).
Deterministic (fixed mtimes, owners, gzip headers, entry order). Stdlib only.

    python3 scripts/make-build-deps-fixtures.py
"""
import base64
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "build-deps")
MTIME = 1_700_000_000
ZIP_TIME = (2023, 11, 14, 22, 13, 20)

# --- the build tools -------------------------------------------------------------------------

# A setup_requires plugin in pbr's manner: `setup(setup_requires=["reqfile-plugin"], reqfile=True)`
# fills install_requires from requirements.txt (a `distutils.setup_keywords` entry point). It
# reads the file through a helper of its own, so that its own dependency must be there too.
PLUGIN = '''"""setup(reqfile=True): install_requires from requirements.txt (written for pypi-graph's tests)."""
from reqfile_helper import read_requirements

VERSION = "%s"


def hook(dist, attr, value):
    if value:
        dist.install_requires = read_requirements("requirements.txt")
'''

HELPER = '''"""Reads a requirements file (written for pypi-graph's tests)."""
import io


def read_requirements(path):
    with io.open(path, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line]
'''

# A PEP 517 backend whose dependencies are dynamic: read from deps.txt at build time.
BACKEND = '''"""A PEP 517 backend with dynamic dependencies (written for pypi-graph's tests).

meta.txt: `name = ...`, `version = ...`, `requires-python = ...`; deps.txt: one Requires-Dist a line.
"""
import io
import os


def _read(path):
    with io.open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def _meta():
    meta = {}
    for line in _read("meta.txt"):
        key, _, value = line.partition("=")
        meta[key.strip()] = value.strip()
    return meta


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    meta = _meta()
    name = meta["name"].replace("-", "_")
    dist_info = "%s-%s.dist-info" % (name, meta["version"])
    os.makedirs(os.path.join(metadata_directory, dist_info))
    lines = ["Metadata-Version: 2.1", "Name: " + meta["name"], "Version: " + meta["version"]]
    if meta.get("requires-python"):
        lines.append("Requires-Python: " + meta["requires-python"])
    extras = []
    for req in _read("deps.txt"):
        lines.append("Requires-Dist: " + req)
        if 'extra == "' in req:
            extra = req.split('extra == "', 1)[1].split('"', 1)[0]
            if extra not in extras:
                extras.append(extra)
    lines.extend("Provides-Extra: " + e for e in extras)
    with io.open(os.path.join(metadata_directory, dist_info, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write(u"\\n".join(lines) + u"\\n")
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("dynback builds no wheels: only metadata")
'''


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def write_wheel(name, version, tag, modules, requires=(), requires_python=None, entry_points=None):
    dist = name.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (dist, version)
    metadata = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version,
                "Summary: a build tool written for pypi-graph's tests", "License: CC0-1.0"]
    if requires_python:
        metadata.append("Requires-Python: " + requires_python)
    metadata += ["Requires-Dist: " + r for r in requires]
    files = dict(modules)
    files[dist_info + "/METADATA"] = "\n".join(metadata) + "\n"
    files[dist_info + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: make-build-deps-fixtures\nRoot-Is-Purelib: true\nTag: %s\n" % tag
    if entry_points:
        files[dist_info + "/entry_points.txt"] = entry_points
    records = [record_line(p, files[p].encode()) for p in sorted(files)]
    records.append(dist_info + "/RECORD,,")
    files[dist_info + "/RECORD"] = "\n".join(records) + "\n"
    filename = "%s-%s-%s.whl" % (dist, version, tag)
    with zipfile.ZipFile(os.path.join(OUT, filename), "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files, key=lambda p: (p.startswith(dist_info), p)):
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])


def write_sdist(name, version, mapping):
    root = "%s-%s" % (name, version)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [(root, None)] + [("%s/%s" % (root, rel), mapping[rel].encode()) for rel in sorted(mapping)]
        for path, data in entries:
            info = tarfile.TarInfo(path)
            info.mtime = MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(buf.getvalue())
    with open(os.path.join(OUT, root + ".tar.gz"), "wb") as handle:
        handle.write(out.getvalue())


def pkg_info(name, version):
    # Metadata-Version 2.1: its Requires-Dist is not trustworthy, so it is not read (PEP 643)
    return "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)


def main():
    if os.path.isdir(OUT):
        for entry in os.listdir(OUT):
            if entry != "README.md":
                os.remove(os.path.join(OUT, entry))
    else:
        os.makedirs(OUT)
    entry_points = "[distutils.setup_keywords]\nreqfile = reqfile_plugin:hook\n"
    write_wheel("reqfile-helper", "1.0", "py2.py3-none-any", {"reqfile_helper/__init__.py": HELPER})
    # 2.1 for every Python; 3.0 (newer) only for Python >= 3.8: each interpreter gets the newest it can run
    write_wheel("reqfile-plugin", "2.1", "py2.py3-none-any", {"reqfile_plugin/__init__.py": PLUGIN % "2.1"},
                requires=["reqfile-helper>=1.0"], entry_points=entry_points)
    write_wheel("reqfile-plugin", "3.0", "py3-none-any", {"reqfile_plugin/__init__.py": PLUGIN % "3.0"},
                requires=["reqfile-helper>=1.0"], requires_python=">=3.8", entry_points=entry_points)
    write_wheel("dynback", "1.0", "py2.py3-none-any", {"dynback/__init__.py": BACKEND})

    # pbr's shape: no dependency in setup.py, the plugin reads requirements.txt
    write_sdist("uses-reqfile", "1.0", {
        "PKG-INFO": pkg_info("uses-reqfile", "1.0"),
        "setup.py": "from setuptools import setup\n\nsetup(\n    name='uses-reqfile',\n    version='1.0',\n"
                    "    setup_requires=['reqfile-plugin>=2.0'],\n    reqfile=True,\n)\n",
        "requirements.txt": "requests>=2\n# a comment\nsix; python_version < \"3\"\n",
    })
    write_sdist("uses-dynback", "1.0", {
        "PKG-INFO": pkg_info("uses-dynback", "1.0"),
        "pyproject.toml": "[build-system]\nrequires = [\"dynback>=1.0\"]\nbuild-backend = \"dynback\"\n\n"
                          "[project]\nname = \"uses-dynback\"\nversion = \"1.0\"\ndynamic = [\"dependencies\"]\n",
        "meta.txt": "name = uses-dynback\nversion = 1.0\nrequires-python = >=2.7\n",
        "deps.txt": "attrs>=20\ncolorama; sys_platform == \"win32\"\nrich>=10; extra == \"pretty\"\n",
    })
    # imports a build dependency it never declares: the first run fails naming the module, which
    # the index has (as the project reqfile-helper): the second run has it
    write_sdist("uses-import", "1.0", {
        "PKG-INFO": pkg_info("uses-import", "1.0"),
        "setup.py": "from setuptools import setup\nfrom reqfile_helper import read_requirements\n\n"
                    "setup(name='uses-import', version='1.0', install_requires=read_requirements('requirements.txt'))\n",
        "requirements.txt": "idna>=3\n",
    })
    # its backend is in no index: missing-build-dependency, naming it
    write_sdist("uses-absent", "1.0", {
        "PKG-INFO": pkg_info("uses-absent", "1.0"),
        "pyproject.toml": "[build-system]\nrequires = [\"absent-backend>=1\"]\nbuild-backend = \"absent_backend\"\n\n"
                          "[project]\nname = \"uses-absent\"\nversion = \"1.0\"\ndynamic = [\"dependencies\"]\n",
    })


if __name__ == "__main__":
    main()
