#!/usr/bin/env python3
"""Writes the sdists of test/fixtures/accuracy/ for `pnpm bench sdist-accuracy`: small sdists
shaped like real ones (setup.py, setup.cfg, requirements.txt, pyproject.toml, PKG-INFO), whose
dependencies the benchmark extracts and compares with the METADATA of a wheel built from the
same source. Deterministic: fixed mtimes, owners and gzip headers. Stdlib only.

    python3 scripts/make-accuracy-fixtures.py
"""
import gzip
import io
import os
import tarfile
import textwrap

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "accuracy")
MTIME = 1_700_000_000


def d(text):
    return textwrap.dedent(text).lstrip("\n")


def pkg_info(name, version, extra_headers=""):
    # What setuptools 65 writes into an sdist: Metadata-Version 2.1, so no static Requires-Dist.
    return d(f"""
        Metadata-Version: 2.1
        Name: {name}
        Version: {version}
        Summary: accuracy fixture
        """) + extra_headers


def write_sdist(name, version, files, pkg_info_text=None):
    root = f"{name}-{version}"
    files = dict(files)
    files.setdefault("PKG-INFO", pkg_info_text or pkg_info(name, version))
    files.setdefault(f"{name.replace('-', '_')}/__init__.py", '__version__ = "%s"\n' % version)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(files):
            data = files[path].encode()
            ti = tarfile.TarInfo(f"{root}/{path}")
            ti.size = len(data)
            ti.mtime = MTIME
            ti.mode = 0o644
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            tf.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    with open(os.path.join(OUT, f"{root}.tar.gz"), "wb") as f:
        f.write(out.getvalue())


def setup_py(body, imports="from setuptools import setup"):
    return imports + "\n\n" + d(body)


FIXTURES = []


def fixture(name, version="1.0", **kw):
    FIXTURES.append((name, version, kw))


# 1. plain install_requires
fixture("acc-plain", files={"setup.py": setup_py("""
    setup(
        name="acc-plain",
        version="1.0",
        packages=["acc_plain"],
        install_requires=["requests>=2.20,<3", "six", "Click~=8.0"],
    )
    """)})

# 2. extras_require, plain keys
fixture("acc-extras", files={"setup.py": setup_py("""
    setup(
        name="acc-extras",
        version="1.0",
        packages=["acc_extras"],
        install_requires=["attrs>=19.2"],
        extras_require={
            "test": ["pytest>=6", "pytest-cov"],
            "docs": ["sphinx>=4", "sphinx_rtd_theme"],
        },
    )
    """)})

# 3. extras_require with ":marker" keys (the old way of conditional install_requires)
fixture("acc-colon-marker", files={"setup.py": setup_py("""
    setup(
        name="acc-colon-marker",
        version="1.0",
        packages=["acc_colon_marker"],
        install_requires=["packaging"],
        extras_require={
            ':python_version < "3.8"': ["importlib-metadata>=1.0"],
            ':sys_platform == "win32"': ["colorama"],
            ":python_version<'3.4'": ["enum34"],
        },
    )
    """)})

# 4. "extra:marker" keys next to the plain extra (as requests did for socks)
fixture("acc-extra-marker", files={"setup.py": setup_py("""
    setup(
        name="acc-extra-marker",
        version="1.0",
        packages=["acc_extra_marker"],
        install_requires=["urllib3>=1.21.1"],
        extras_require={
            "security": [],
            "socks": ["PySocks>=1.5.6, !=1.5.7"],
            'socks:sys_platform == "win32" and python_version == "2.7"': ["win_inet_pton"],
            'use_chardet_on_py3:python_version >= "3"': ["chardet>=3.0.2,<6"],
        },
    )
    """)})

# 5. python_requires
fixture("acc-python-requires", files={"setup.py": setup_py("""
    setup(
        name="acc-python-requires",
        version="1.0",
        packages=["acc_python_requires"],
        python_requires=">=3.7, !=3.8.*",
        install_requires=["typing-extensions>=4; python_version < '3.10'"],
    )
    """)})

# 6. setup.cfg only
fixture("acc-setup-cfg", files={
    "setup.py": "import setuptools\n\nsetuptools.setup()\n",
    "setup.cfg": d("""
        [metadata]
        name = acc-setup-cfg
        version = attr: acc_setup_cfg.__version__

        [options]
        packages = find:
        python_requires = >=3.6
        install_requires =
            jinja2>=2.10
            MarkupSafe
            importlib_resources; python_version < "3.9"

        [options.extras_require]
        test =
            pytest
            coverage[toml]>=5
        i18n = Babel>=2.7
        """),
})

# 7. setup.cfg with extra names that normalise (PEP 685) and a marker inside an extra
fixture("acc-setup-cfg-extras", files={
    "setup.py": "from setuptools import setup\nsetup()\n",
    "setup.cfg": d("""
        [metadata]
        name = acc-setup-cfg-extras
        version = 1.0

        [options]
        packages = acc_setup_cfg_extras
        install_requires = numpy>=1.17

        [options.extras_require]
        Dev_Tools =
            black==22.3.0
            mypy; platform_python_implementation == "CPython"
        all.plots = matplotlib>=3
        """),
})

# 8. requirements read from requirements.txt
fixture("acc-requirements-txt", files={
    "requirements.txt": d("""
        # runtime
        requests>=2.25

        pyyaml>=5.1  # config files
        python-dateutil>=2.8.1
        """),
    "requirements-dev.txt": "pytest>=7\nflake8\n",
    "setup.py": setup_py("""
        import os

        here = os.path.abspath(os.path.dirname(__file__))


        def read_requirements(name):
            with open(os.path.join(here, name)) as f:
                lines = (line.split("#", 1)[0].strip() for line in f)
                return [line for line in lines if line and not line.startswith("-")]


        setup(
            name="acc-requirements-txt",
            version="1.0",
            packages=["acc_requirements_txt"],
            install_requires=read_requirements("requirements.txt"),
            extras_require={"dev": read_requirements("requirements-dev.txt")},
        )
        """),
})

# 9. version by importing the package (which imports nothing)
fixture("acc-version-import", "2.3.1", files={
    "acc_version_import/__init__.py": '"""A package."""\n\n__version__ = "2.3.1"\n',
    "setup.py": setup_py("""
        from acc_version_import import __version__

        setup(
            name="acc-version-import",
            version=__version__,
            packages=["acc_version_import"],
            install_requires=["certifi"],
        )
        """),
})

# 10. version by a regex over __init__.py
fixture("acc-version-regex", "0.9.2", files={
    "acc_version_regex/__init__.py": 'import json\n\n__version__ = "0.9.2"\n',
    "setup.py": setup_py("""
        import io
        import re

        with io.open("acc_version_regex/__init__.py", encoding="utf8") as f:
            version = re.search(r'__version__ = "(.*?)"', f.read()).group(1)

        setup(
            name="acc-version-regex",
            version=version,
            packages=["acc_version_regex"],
            install_requires=["idna>=2.5"],
        )
        """),
})

# 11. version by importing a package whose __init__ imports one of its own dependencies
fixture("acc-version-import-dep", files={
    "acc_version_import_dep/__init__.py": 'import six\n\n__version__ = "1.0"\n',
    "setup.py": setup_py("""
        import acc_version_import_dep

        setup(
            name="acc-version-import-dep",
            version=acc_version_import_dep.__version__,
            packages=["acc_version_import_dep"],
            install_requires=["six>=1.10"],
        )
        """),
})

# 12. markers in install_requires
fixture("acc-markers", files={"setup.py": setup_py("""
    setup(
        name="acc-markers",
        version="1.0",
        packages=["acc_markers"],
        install_requires=[
            "enum34; python_version<'3.4'",
            "pywin32>=227 ; platform_system=='Windows'",
            "uvloop>=0.14; sys_platform != 'win32' and implementation_name == 'cpython'",
            'dataclasses; python_version == "3.6"',
            "typing",
        ],
    )
    """)})

# 13. environment-dependent code: Python 2 only dependencies
fixture("acc-env-py2", files={"setup.py": setup_py("""
    import sys

    install_requires = ["six"]
    if sys.version_info < (3,):
        install_requires += ["futures", "ipaddress"]
    if sys.version_info < (3, 4):
        install_requires.append("enum34")

    setup(
        name="acc-env-py2",
        version="1.0",
        packages=["acc_env_py2"],
        install_requires=install_requires,
    )
    """)})

# 14. environment-dependent code: a dependency only before 3.11 (tomli) and one on 3.12+
fixture("acc-env-minor", files={"setup.py": setup_py("""
    import sys

    deps = ["packaging>=20"]
    if sys.version_info < (3, 11):
        deps.append("tomli>=1.1")
    if sys.version_info >= (3, 12):
        deps.append("setuptools>=68")

    setup(
        name="acc-env-minor",
        version="1.0",
        packages=["acc_env_minor"],
        install_requires=deps,
    )
    """)})

# 15. environment-dependent code: platform
fixture("acc-env-platform", files={"setup.py": setup_py("""
    import platform
    import sys

    requires = ["psutil"]
    if sys.platform == "win32":
        requires.append("pywin32")
    elif platform.system() == "Darwin":
        requires.append("pyobjc-core")
    else:
        requires.append("distro>=1.5")

    setup(
        name="acc-env-platform",
        version="1.0",
        packages=["acc_env_platform"],
        install_requires=requires,
    )
    """)})

# 16. distutils.core.setup(requires=...): metadata 1.1 `Requires`, no Requires-Dist
fixture("acc-distutils-requires", files={"setup.py": d("""
    from distutils.core import setup

    setup(
        name="acc-distutils-requires",
        version="1.0",
        packages=["acc_distutils_requires"],
        requires=["numpy (>=1.0)"],
    )
    """)})

# 17. PEP 621 pyproject with the setuptools backend (static metadata)
fixture("acc-pep621", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "acc-pep621"
        version = "1.0"
        requires-python = ">=3.8"
        dependencies = [
            "httpx>=0.23",
            "anyio[trio]>=3; python_version >= '3.8'",
            "Pydantic>=1.10,<3",
        ]

        [project.optional-dependencies]
        test = [
            "pytest>=7",
            "pytest-asyncio; python_version < '3.12'",
            "trio>=0.22; python_version >= '3.8' or implementation_name == 'pypy'",
        ]
        Docs_Build = ["mkdocs"]

        [tool.setuptools]
        packages = ["acc_pep621"]
        """),
})

# 18. PEP 621 pyproject whose dependencies are dynamic, given by setup.py
fixture("acc-pep621-dynamic", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "acc-pep621-dynamic"
        version = "1.0"
        requires-python = ">=3.7"
        dynamic = ["dependencies", "optional-dependencies"]

        [tool.setuptools]
        packages = ["acc_pep621_dynamic"]
        """),
    "setup.py": setup_py("""
        setup(
            install_requires=["rich>=12", "colorama; os_name == 'nt'"],
            extras_require={"cli": ["typer>=0.7"]},
        )
        """),
})

# 19. PKG-INFO 2.2 with Requires-Dist (static, PEP 643) matching setup.py
fixture("acc-pkg-info-22", pkg_info_text=d("""
    Metadata-Version: 2.2
    Name: acc-pkg-info-22
    Version: 1.0
    Summary: accuracy fixture
    Requires-Python: >=3.8
    Requires-Dist: requests>=2.28
    Requires-Dist: tomli>=1.1.0; python_version < "3.11"
    Provides-Extra: test
    Requires-Dist: pytest>=7; extra == "test"
    """), files={"setup.py": setup_py("""
    setup(
        name="acc-pkg-info-22",
        version="1.0",
        packages=["acc_pkg_info_22"],
        python_requires=">=3.8",
        install_requires=["requests>=2.28", 'tomli>=1.1.0; python_version < "3.11"'],
        extras_require={"test": ["pytest>=7"]},
    )
    """)})

# 20. PKG-INFO 2.2 that marks Requires-Dist dynamic: setup.py decides
fixture("acc-pkg-info-dynamic", pkg_info_text=d("""
    Metadata-Version: 2.2
    Name: acc-pkg-info-dynamic
    Version: 1.0
    Summary: accuracy fixture
    Dynamic: Requires-Dist
    Requires-Dist: stale-dependency
    """), files={"setup.py": setup_py("""
    setup(
        name="acc-pkg-info-dynamic",
        version="1.0",
        packages=["acc_pkg_info_dynamic"],
        install_requires=["wrapt>=1.10,<2"],
    )
    """)})

# 21. markers inside extras' values
fixture("acc-extra-value-markers", files={"setup.py": setup_py("""
    setup(
        name="acc-extra-value-markers",
        version="1.0",
        packages=["acc_extra_value_markers"],
        extras_require={
            "test": [
                "pytest>=6; python_version >= '3.7'",
                "mock; python_version < '3.3'",
                "hypothesis",
            ],
            "speedups": ["ujson; platform_python_implementation == 'CPython'"],
        },
    )
    """)})

# 22. direct URL requirement and names that normalise (PEP 503)
fixture("acc-names-urls", files={"setup.py": setup_py("""
    setup(
        name="acc-names-urls",
        version="1.0",
        packages=["acc_names_urls"],
        install_requires=[
            "Zope.Interface>=4.0",
            "ruamel_yaml>=0.15",
            "mylib @ https://example.com/mylib-1.0.tar.gz",
            "Flask[async,dotenv]>=2",
        ],
    )
    """)})

# 23. setup_requires and tests_require, which METADATA does not carry
fixture("acc-setup-tests-requires", files={"setup.py": setup_py("""
    setup(
        name="acc-setup-tests-requires",
        version="1.0",
        packages=["acc_setup_tests_requires"],
        install_requires=["decorator"],
        tests_require=["nose"],
        extras_require={"test": ["nose"]},
    )
    """)})

# 24. a requirement string with several lines in one string, and a tuple of requirements
fixture("acc-multiline-string", files={"setup.py": setup_py('''
    REQUIRES = """
    jmespath>=0.7.1,<2.0.0
    # comment line
    python-dateutil>=2.1,<3.0.0
    urllib3>=1.25.4,<1.27 ; python_version < "3.10"
    """

    setup(
        name="acc-multiline-string",
        version="1.0",
        packages=["acc_multiline_string"],
        install_requires=REQUIRES,
        extras_require={"crt": ("awscrt==0.16.9",)},
    )
    ''')})

# 25. an extra that requires the project itself with another extra
fixture("acc-self-extra", files={"setup.py": setup_py("""
    extras = {
        "redis": ["redis>=3"],
        "msgpack": ["msgpack>=1.0"],
    }
    extras["all"] = ["acc-self-extra[redis,msgpack]"]

    setup(
        name="acc-self-extra",
        version="1.0",
        packages=["acc_self_extra"],
        extras_require=extras,
    )
    """)})

# 26. a setup.py that reads the README with an explicit encoding and uses find_packages
fixture("acc-readme-find-packages", files={
    "README.rst": "Acc\n===\n\nUnicode: \u00e9\u00e8\u2013\n",
    "setup.py": setup_py("""
        from setuptools import find_packages

        with open("README.rst", encoding="utf-8") as f:
            long_description = f.read()

        setup(
            name="acc-readme-find-packages",
            version="1.0",
            long_description=long_description,
            packages=find_packages(exclude=["tests"]),
            install_requires=["lxml>=4.6; platform_machine != 'armv7l'", "cssselect>=0.9"],
            python_requires=">=3.6",
        )
        """),
})

# 27. markers with `or`, in install_requires, a ":marker" key and an "extra:marker" key
fixture("acc-or-markers", files={"setup.py": setup_py("""
    setup(
        name="acc-or-markers",
        version="1.0",
        packages=["acc_or_markers"],
        install_requires=['pyreadline3; sys_platform == "win32" or sys_platform == "cygwin"'],
        extras_require={
            ':python_version < "3.6" or platform_python_implementation == "PyPy"': ["cffi>=1.0"],
            'win:sys_platform == "win32" or os_name == "nt"': ["pywin32-ctypes"],
            "win": ["wmi"],
        },
    )
    """)})


# 28. poetry: [tool.poetry] only (poetry-core 1.x style sdist: PKG-INFO 2.1, no setup.py)
fixture("acc-poetry", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["poetry-core>=1.0"]
        build-backend = "poetry.core.masonry.api"

        [tool.poetry]
        name = "acc-poetry"
        version = "1.0"
        description = "accuracy fixture"
        authors = ["Fixture <fixture@example.org>"]
        packages = [{ include = "acc_poetry" }]

        [tool.poetry.dependencies]
        python = "^3.8"
        requests = "^2.25"
        click = "~8.1"
        attrs = { version = ">=21.3", markers = "sys_platform != 'win32'" }
        typing-extensions = { version = "^4.0", python = "<3.10" }
        Pillow = ">=9,<11"
        tomli = { version = "^2.0.1", python = ">=3.8,<3.11" }
        pytest = { version = "^7.2", optional = true }
        Sphinx = { version = ">=5", optional = true, extras = ["docs"] }
        colorama = { version = "*", platform = "win32" }

        [tool.poetry.extras]
        test = ["pytest"]
        Docs = ["sphinx"]

        [tool.poetry.group.dev.dependencies]
        black = "^23"
        """),
})

# 29. flit_core backend with PEP 621 metadata (static: pyproject)
fixture("acc-flit-pep621", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["flit_core>=3.4,<5"]
        build-backend = "flit_core.buildapi"

        [project]
        name = "acc_flit_pep621"
        version = "1.0"
        description = "accuracy fixture"
        requires-python = ">=3.7"
        dependencies = [
            "docutils>=0.18",
            "importlib-metadata>=4; python_version < '3.10'",
        ]

        [project.optional-dependencies]
        test = ["pytest>=7", "coverage[toml]"]
        """),
    "acc_flit_pep621/__init__.py": '"""accuracy fixture"""\n__version__ = "1.0"\n',
})


# 30. setuptools backend, metadata in setup.cfg, no setup.py: setuptools' backend runs `setup()`
fixture("acc-setup-cfg-nosetup", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["setuptools>=40.8"]
        build-backend = "setuptools.build_meta"
        """),
    "setup.cfg": d("""
        [metadata]
        name = acc-setup-cfg-nosetup
        version = 1.0

        [options]
        packages = acc_setup_cfg_nosetup
        python_requires = >=3.7
        install_requires =
            requests[socks, security]>=2.25, <3
            importlib-metadata; python_version < "3.8"

        [options.extras_require]
        yaml = PyYAML>=5
        """),
})

# 31. poetry: two extras share an optional dependency, and one extra is part of another
fixture("acc-poetry-shared-extras", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["poetry-core>=1.0"]
        build-backend = "poetry.core.masonry.api"

        [tool.poetry]
        name = "acc-poetry-shared-extras"
        version = "1.0"
        description = "accuracy fixture"
        authors = ["Fixture <fixture@example.org>"]
        packages = [{ include = "acc_poetry_shared_extras" }]

        [tool.poetry.dependencies]
        python = "^3.8"
        rdflib = "^7"
        httpx = { version = "^0.28.1", optional = true }
        pillow = { version = "^10", optional = true, markers = "sys_platform != 'win32'" }
        pypng = { version = "*", optional = true }

        [tool.poetry.extras]
        rdf4j = ["httpx"]
        graphdb = ["httpx"]
        pil = ["pillow"]
        all = ["pypng", "pillow"]
        """),
})

# 32. poetry backend with a compatibility setup.py stub, which the backend never runs
fixture("acc-poetry-setuppy-stub", files={
    "pyproject.toml": d("""
        [build-system]
        requires = ["poetry-core>=1.0"]
        build-backend = "poetry.core.masonry.api"

        [tool.poetry]
        name = "acc-poetry-setuppy-stub"
        version = "1.0"
        description = "accuracy fixture"
        authors = ["Fixture <fixture@example.org>"]
        packages = [{ include = "acc_poetry_setuppy_stub" }]

        [tool.poetry.dependencies]
        python = "^3.8"
        click = "^8.1"
        colorama = { version = "*", markers = "os_name == 'nt'" }
        """),
    "setup.py": setup_py("""
        # compatibility stub for tools that cannot read pyproject.toml
        setup(name="acc-poetry-setuppy-stub", version="1.0")
        """),
})


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".tar.gz"):
            os.remove(os.path.join(OUT, old))
    for name, version, kw in FIXTURES:
        write_sdist(name, version, kw.get("files", {}), kw.get("pkg_info_text"))
    print(f"wrote {len(FIXTURES)} sdists to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
