#!/usr/bin/env python3
"""Writes the sdist fixtures of test/fixtures/sdists/ (see its README.md). Deterministic: fixed
mtimes, owners and gzip headers, so running it again gives byte-identical files. Stdlib only.

    python3 scripts/make-sdist-fixtures.py
"""
import bz2
import gzip
import io
import os
import tarfile
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "sdists")
MTIME = 1_700_000_000


def info(name, size=0, kind=tarfile.REGTYPE, link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.type = kind
    ti.linkname = link
    ti.mtime = MTIME
    ti.mode = mode
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    """members: list of (name, bytes | None, kind, linkname)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data, kind, link in members:
            if kind == tarfile.REGTYPE:
                tf.addfile(info(name, len(data)), io.BytesIO(data))
            else:
                tf.addfile(info(name, 0, kind, link, 0o755 if kind == tarfile.DIRTYPE else 0o644))
    return buf.getvalue()


def files(root, mapping):
    out = [(root, None, tarfile.DIRTYPE, "")]
    for rel in sorted(mapping):
        out.append((f"{root}/{rel}", mapping[rel].encode(), tarfile.REGTYPE, ""))
    return out


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def write_tgz(name, members):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(tar_bytes(members))
    write(name, buf.getvalue())


def write_zip(name, mapping):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(mapping):
            zi = zipfile.ZipInfo(rel, date_time=(2023, 11, 14, 22, 13, 20))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, mapping[rel])
    write(name, buf.getvalue())


def pkg_info(name, mv, extra_headers=""):
    return f"Metadata-Version: {mv}\nName: {name}\nVersion: 1.0\n{extra_headers}\nA description.\n"


SETUP_PY = "from setuptools import setup\nsetup(install_requires=['requests'])\n"

PKGINFO_22_DEPS = (
    "Requires-Python: >=3.8\n"
    "Requires-Dist: requests>=2.0\n"
    "Requires-Dist: tomli; python_version < \"3.11\"\n"
    "Provides-Extra: socks\n"
    "Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == \"socks\"\n"
    "Provides-Extra: test\n"
    "Requires-Dist: pytest>=7; extra == \"test\" and python_version >= \"3.9\"\n"
)

PEP621 = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "pep621-static"
version = "1.0"
requires-python = ">=3.9"
dependencies = [
  "httpx>=0.24,<1",
  "typing-extensions; python_version < '3.11'",
]

[project.optional-dependencies]
cli = ["click>=8", "rich"]
Test_Suite = ["pytest; sys_platform != 'win32'"]
"""

PEP621_DYNAMIC = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pep621-dynamic"
version = "1.0"
requires-python = ">=3.8"
dynamic = ["dependencies", "optional-dependencies"]
"""

POETRY = """[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"

[tool.poetry]
name = "poetry-demo"
version = "1.0"
description = ""
authors = ["A <a@example.org>"]

[tool.poetry.dependencies]
python = "^3.8"
requests = "^2.31"
attrs = "~23.1"
click = "*"
tomli = { version = ">=1.1.0", python = "<3.11" }
colorama = { version = "^0.4", markers = "sys_platform == 'win32'" }
pyyaml = { version = "^6.0", optional = true }
uvicorn = { version = "0.23.2", extras = ["standard"] }
numpy = [
  { version = "~1.24", python = "<3.9" },
  { version = "^1.26", python = ">=3.9" },
]
Django = ">=3.2,<5.0"

[tool.poetry.group.dev.dependencies]
pytest = "^7"

[tool.poetry.dev-dependencies]
black = "*"

[tool.poetry.extras]
yaml = ["pyyaml"]
"""

FLIT = """[build-system]
requires = ["flit"]
build-backend = "flit.buildapi"

[tool.flit.metadata]
module = "flit_old"
author = "A"
requires-python = ">=3.6"
requires = [
  "docutils",
  "requests >=2.0",
]

[tool.flit.metadata.requires-extra]
test = ["pytest >=2.7.3", "pytest-cov"]
doc = ["sphinx"]
"""

# setuptools builds it from setup.cfg alone: no setup.py (setuptools' backend runs `setup()`).
SETUPTOOLS_CFG_PY = """[build-system]
requires = ["setuptools>=40.8", "wheel"]
build-backend = "setuptools.build_meta"
"""

SETUPTOOLS_CFG = """[metadata]
name = setuptools-cfg
version = 1.0

[options]
packages = setuptools_cfg
python_requires = >=2.7
install_requires =
    requests[socks, security]>=2.0, <3
    mylib @ https://example.org/mylib-1.0.tar.gz
    enum34; python_version < "3.4"

[options.extras_require]
test = pytest>=4
"""

# Two extras share an optional dependency, and one extra is part of another (issue 11 §3).
POETRY_SHARED = """[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"

[tool.poetry]
name = "poetry-shared"
version = "1.0"
description = ""
authors = ["A <a@example.org>"]

[tool.poetry.dependencies]
python = "^3.9"
rdflib = "^7"
httpx = { version = "^0.28.1", optional = true }
pillow = { version = "^10", optional = true, markers = "sys_platform != 'win32'" }
pypng = { version = "*", optional = true }

[tool.poetry.extras]
rdf4j = ["httpx"]
graphdb = ["httpx"]
pil = ["pillow"]
all = ["pypng", "pillow"]
"""

# hatchling computes its dependencies (dynamic), and a setup.py stub is shipped beside it.
HATCH_STUB = """[build-system]
requires = ["hatchling>=1.18", "hatch-requirements-txt"]
build-backend = "hatchling.build"

[project]
name = "hatch-stub"
version = "1.0"
dynamic = ["dependencies"]

[tool.hatch.metadata.hooks.requirements_txt]
files = ["requirements.txt"]
"""

STUB_SETUP_PY = "# compatibility stub for old tools; the build backend is in pyproject.toml\nfrom setuptools import setup\nsetup()\n"

NOTHING_PY = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""

GOOD = {
    "pkginfo22-static-1.0": {"PKG-INFO": pkg_info("pkginfo22-static", "2.2", PKGINFO_22_DEPS), "setup.py": SETUP_PY},
    "pkginfo22-dynamic-1.0": {
        "PKG-INFO": pkg_info("pkginfo22-dynamic", "2.2", "Dynamic: Requires-Dist\nRequires-Dist: six\n"),
        "setup.py": SETUP_PY,
    },
    "pkginfo21-1.0": {"PKG-INFO": pkg_info("pkginfo21", "2.1", "Requires-Dist: six\n"), "setup.py": SETUP_PY},
    "pep621-static-1.0": {"PKG-INFO": pkg_info("pep621-static", "2.1"), "pyproject.toml": PEP621},
    "pep621-dynamic-1.0": {"PKG-INFO": pkg_info("pep621-dynamic", "2.1"), "pyproject.toml": PEP621_DYNAMIC, "setup.py": SETUP_PY},
    "pep621-dynamic-nosetup-1.0": {"PKG-INFO": pkg_info("pep621-dynamic-nosetup", "2.1"), "pyproject.toml": PEP621_DYNAMIC},
    "poetry-demo-1.0": {"PKG-INFO": pkg_info("poetry-demo", "2.1"), "pyproject.toml": POETRY},
    "poetry-setuppy-1.0": {"PKG-INFO": pkg_info("poetry-setuppy", "2.1"), "pyproject.toml": POETRY, "setup.py": SETUP_PY},
    "poetry-shared-1.0": {"PKG-INFO": pkg_info("poetry-shared", "2.1"), "pyproject.toml": POETRY_SHARED},
    "flit-old-1.0": {"PKG-INFO": pkg_info("flit-old", "2.1"), "pyproject.toml": FLIT, "flit_old.py": '"""x"""\n__version__ = "1.0"\n'},
    "flit-setuppy-1.0": {
        "PKG-INFO": pkg_info("flit-setuppy", "2.1"),
        "pyproject.toml": FLIT,
        "setup.py": STUB_SETUP_PY,
        "flit_old.py": '"""x"""\n__version__ = "1.0"\n',
    },
    "hatch-stub-1.0": {
        "PKG-INFO": pkg_info("hatch-stub", "2.1"),
        "pyproject.toml": HATCH_STUB,
        "requirements.txt": "click>=8\n",
        "setup.py": STUB_SETUP_PY,
    },
    "setuptools-cfg-1.0": {
        "PKG-INFO": pkg_info("setuptools-cfg", "2.1"),
        "pyproject.toml": SETUPTOOLS_CFG_PY,
        "setup.cfg": SETUPTOOLS_CFG,
        "setuptools_cfg/__init__.py": "",
    },
    "setuppy-only-1.0": {"PKG-INFO": pkg_info("setuppy-only", "1.0"), "setup.py": SETUP_PY},
    "nothing-1.0": {"PKG-INFO": pkg_info("nothing", "2.1"), "pyproject.toml": NOTHING_PY},
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for root, mapping in GOOD.items():
        write_tgz(f"{root}.tar.gz", files(root, mapping))
    # Other containers of one fixture.
    pep621 = files("pep621-static-1.0", GOOD["pep621-static-1.0"])
    write("pep621-static-1.0.tar.bz2", bz2.compress(tar_bytes(pep621), 9))
    write("pep621-static-1.0.tar", tar_bytes(pep621))
    write_zip("pep621-static-1.0.zip", {f"pep621-static-1.0/{k}": v for k, v in GOOD["pep621-static-1.0"].items()})
    write_zip("zip-dotdot-1.0.zip", {"zip-dotdot-1.0/PKG-INFO": "x", "zip-dotdot-1.0/../../evil": "x"})

    base = files("evil-1.0", {"PKG-INFO": pkg_info("evil", "2.2")})
    hostile = {
        "dotdot": [("evil-1.0/../../evil.txt", b"x", tarfile.REGTYPE, "")],
        "absolute": [("/tmp/evil.txt", b"x", tarfile.REGTYPE, "")],
        "symlink-out": [("evil-1.0/link", None, tarfile.SYMTYPE, "../../etc/passwd")],
        "symlink-abs": [("evil-1.0/link", None, tarfile.SYMTYPE, "/etc/passwd")],
        # each link lexically inside, together out: a -> . ; b -> a/a/../..
        "symlink-chain": [
            ("evil-1.0/a", None, tarfile.SYMTYPE, "."),
            ("evil-1.0/b", None, tarfile.SYMTYPE, "a/a/../.."),
        ],
        "hardlink-out": [("evil-1.0/h", None, tarfile.LNKTYPE, "../outside.txt")],
        "hardlink-abs": [("evil-1.0/h", None, tarfile.LNKTYPE, "/etc/passwd")],
        "chardev": [("evil-1.0/null", None, tarfile.CHRTYPE, "")],
        "blockdev": [("evil-1.0/sda", None, tarfile.BLKTYPE, "")],
        "fifo": [("evil-1.0/pipe", None, tarfile.FIFOTYPE, "")],
    }
    for name, extra in hostile.items():
        write_tgz(f"hostile-{name}.tar.gz", base + extra)
    # Links that stay inside are fine.
    write_tgz(
        "links-inside-1.0.tar.gz",
        files("links-inside-1.0", {"PKG-INFO": pkg_info("links-inside", "2.2", "Requires-Dist: six\n"), "src/a.py": ""})
        + [
            ("links-inside-1.0/b.py", None, tarfile.SYMTYPE, "src/a.py"),
            ("links-inside-1.0/c.py", None, tarfile.LNKTYPE, "links-inside-1.0/src/a.py"),
        ],
    )
    write("not-a-tar-1.0.tar.gz", gzip.compress(b"hello, not a tar" * 100, mtime=0))


if __name__ == "__main__":
    main()
