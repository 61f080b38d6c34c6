"""Nix builder: the setuptools shipped to one interpreter of the setup.py sandbox.

Runs under that interpreter itself (2.7 ... 3.13: no f-strings) as

    python -s -S -B ship-setuptools.py

with the derivation's attributes in the environment: `src` (a directory holding the packages,
copied from the interpreter's own site-packages without any .pyc, or a setuptools wheel) and
`out`.  Copies setuptools, pkg_resources, _distutils_hack, easy_install.py and setuptools'
dist-info (its entry points register the setup() keywords) to $out and compiles them with this
interpreter, so that extract.py imports bytecode instead of compiling setuptools at every run
(zipimport of the wheel cost ~0.6 s of CPU per run under 3.12/3.13).

Bytecode is validated against the source's mtime and size; Nix sets every mtime in the store to
1 after the build, so the sources get mtime 1 before they are compiled and the .pyc stay valid.
"""
import compileall
import os
import re
import shutil
import sys
import zipfile

SRC = os.environ["src"]
OUT = os.environ["out"]
WANTED = re.compile(r"^(setuptools|pkg_resources|_distutils_hack|easy_install\.py|setuptools-[^/]*\.dist-info)$")


def copy_tree():
    for name in sorted(os.listdir(SRC)):
        if not WANTED.match(name):
            continue
        source = os.path.join(SRC, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(OUT, name), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, os.path.join(OUT, name))


def unzip_wheel():
    with zipfile.ZipFile(SRC) as wheel:
        for info in wheel.infolist():
            top = info.filename.split("/", 1)[0]
            if WANTED.match(top) and not info.filename.endswith((".pyc", "/")):
                target = os.path.realpath(os.path.join(OUT, info.filename))
                if not target.startswith(os.path.realpath(OUT) + os.sep):
                    raise SystemExit("unsafe path in the wheel: %s" % info.filename)
                wheel.extract(info, OUT)


def main():
    os.makedirs(OUT)
    if os.path.isdir(SRC):
        copy_tree()
    else:
        unzip_wheel()
    if not os.path.isdir(os.path.join(OUT, "setuptools")):
        raise SystemExit("no setuptools in %s" % SRC)
    for directory, dirs, files in os.walk(OUT):
        for name in dirs + files:
            path = os.path.join(directory, name)
            os.chmod(path, 0o755 if name in dirs else 0o644)
            os.utime(path, (1, 1))
    options = {"quiet": 1}
    if sys.version_info >= (3, 7):
        import py_compile
        options["invalidation_mode"] = py_compile.PycInvalidationMode.TIMESTAMP
    # A few files of old setuptools are not valid under every Python (e.g. Python 2 only
    # templates): they stay uncompiled, exactly as in the interpreter's own site-packages.
    compileall.compile_dir(OUT, **options)
    print("shipped setuptools from %s for Python %s" % (SRC, sys.version.split()[0]))


if __name__ == "__main__":
    main()
