# Host interpreters for the setup.py sandbox: those of `hostPythons` (the JSON that
# packages/extractor/src/sandbox/pythons.ts makes from SANDBOX_PYTHONS or discovery, see
# nix/README.md "Interpreters"), or by default root's nine pyenv builds.
#
# The interpreters are not in the Nix store: nix-build must expose them read-only
# with `--option extra-sandbox-paths`, at the same path because their RPATH points
# at `<prefix>/lib` (see packages/extractor/src/sandbox/run-sandbox.ts, which passes
# `sandboxPaths`: each interpreter's `binds` and the system libraries).
# Only those paths are bound, never $HOME.  Files there belong to their owner and the
# build runs as a nixbld user, so the sandbox cannot write them.
#
# Host-installed packages are never visible: inside the sandbox each version's site
# directories within its binds (`covers`) are covered by an empty directory (`empty-site-packages/`,
# bound over it: nested sandbox paths are mounted after their parent), and extract.py
# runs with `-s -S`, so sys.path is the standard library plus `path` below.
#
# setuptools: each interpreter gets its own copy in the store (`shipped`, built by
# ship-setuptools.py with that interpreter: copied and compiled to bytecode).  Its
# source is the setuptools of the interpreter's site directory (`setuptools`: pyenv's
# 2.7 … 3.11, Debian's dist-packages; copied by content, without .pyc) or, where it
# has none (pyenv's 3.12 and 3.13), Debian's pure-Python setuptools 66.1.1 wheel
# (setuptools then also provides `distutils`).  The versions are those the interpreters had installed
# before, so the results do not change.
#
# Caveat: the derivation hash sees the interpreters' paths as strings, not their
# content: rebuilding a pyenv version in place does not invalidate cached results
# (its setuptools is copied by content, so a changed setuptools does).
#
# `shippedDrvs` (optional, { "27" = "/nix/store/…-pypi-graph-setuptools-py27.drv"; … }): the
# already instantiated `shipped` derivations (`shippedDrvPaths` below), imported instead of
# evaluated.  The result is the same derivation; it only spares each nix-build of an sdist
# hashing the seven setuptools source trees again (~0.15 s of every evaluation).
# run-sandbox.ts instantiates them once per process.
{ root ? "/root/.pyenv/versions"
, setuptoolsWheel ? /usr/share/python-wheels/setuptools-66.1.1-py3-none-any.whl
, shippedDrvs ? null
  # The interpreter set as JSON, { "27": { version, lib, python, prefix, binds, covers, setuptools }, … }
  # (packages/extractor/src/sandbox/pythons.ts: SANDBOX_PYTHONS, or discovery). null: the nine
  # pyenv versions below under `root`, as before; the same attributes, so the same derivations.
, hostPythons ? null
}:
let
  wheel = builtins.path { path = setuptoolsWheel; name = "setuptools-66.1.1-py3-none-any.whl"; };
  empty = builtins.path { path = ./empty-site-packages; name = "empty-site-packages"; };
  shipScript = builtins.path { path = ./ship-setuptools.py; name = "ship-setuptools.py"; };
  pyenvVersions = {
    "27" = { version = "2.7.18"; lib = "python2.7"; };
    "36" = { version = "3.6.15"; lib = "python3.6"; };
    "37" = { version = "3.7.16"; lib = "python3.7"; };
    "38" = { version = "3.8.18"; lib = "python3.8"; };
    "39" = { version = "3.9.18"; lib = "python3.9"; };
    "310" = { version = "3.10.13"; lib = "python3.10"; };
    "311" = { version = "3.11.7"; lib = "python3.11"; };
    "312" = { version = "3.12.1"; lib = "python3.12"; };
    "313" = { version = "3.13.0"; lib = "python3.13"; };
  };
  fromPyenv = key: v:
    let
      prefix = "${root}/${v.version}";
      site = "${prefix}/lib/${v.lib}/site-packages";
    in v // {
      inherit prefix;
      python = "${prefix}/bin/${v.lib}";
      binds = [ prefix ];
      covers = [ site ];
      # 3.12 and 3.13 of pyenv come without setuptools
      setuptools = if key == "312" || key == "313" then null else site;
    };
  versions = if hostPythons == null then builtins.mapAttrs fromPyenv pyenvVersions
             else builtins.fromJSON hostPythons;
  # setuptools, pkg_resources, _distutils_hack, easy_install.py and setuptools' dist-info from
  # the interpreter's site directory, by content, without bytecode
  fromSitePackages = v:
    let site = /. + v.setuptools;
    in builtins.path {
      path = site;
      name = "setuptools-source-${v.version}";
      filter = p: type:
        let b = baseNameOf p; in
        if dirOf p == toString site
        then builtins.match "setuptools|pkg_resources|_distutils_hack|easy_install\\.py|setuptools-.*\\.dist-info" b != null
        else !(b == "__pycache__" || builtins.match ".*\\.py[co]" b != null);
    };
  # A relocated interpreter (copied or moved after it was built, or uv's python-build-standalone)
  # started by Nix as a builder gets a bare argv[0] and no PATH, so it falls back to the prefix it
  # was built for: PYTHONHOME names its real one. (Run by driver.py, with its full path, it finds it.)
  homeOf = v: if v.relocated or false then { PYTHONHOME = v.prefix; } else { };
  ship = key: v: src: derivation ({
    name = "pypi-graph-setuptools-py${key}";
    system = builtins.currentSystem;
    builder = v.python;
    args = [ "-s" "-S" "-B" shipScript ];
    inherit src;
  } // homeOf v);
  build = key: v: ship key v (if v.setuptools == null then wheel else fromSitePackages v);
  shipped =
    if shippedDrvs == null then builtins.mapAttrs build versions
    else builtins.mapAttrs (key: _: import (/. + shippedDrvs.${key})) versions;
  interpreter = key: v: {
    inherit (v) python prefix;
    path = [ "${shipped.${key}}" ];
  };
  all = builtins.attrValues versions;
  # driver.py and probe.py need a Python >= 3.7: 3.11 as before, else the newest there is
  # driver.py and probe.py need a Python >= 3.7: 3.11 as before, else the newest there is, one
  # that is where it was built if possible
  driverKey =
    if versions ? "311" then "311"
    else
      let usable = builtins.filter (k: builtins.elem k [ "37" "38" "39" "310" "312" "313" ]) (builtins.attrNames versions);
          rank = k: builtins.fromJSON k + (if versions.${k}.relocated or false then 0 else 1000);
          best = builtins.sort (a: b: rank a > rank b) usable;
      in if best == [ ] then throw "pypi-graph: the sandbox's interpreters include no Python >= 3.7 to run its driver"
         else builtins.head best;
  driverSpec = versions.${driverKey};
in {
  # the interpreter that runs driver.py (any Python >= 3.7)
  driver = driverSpec.python;
  # its options (-I ignores PYTHONHOME, which a relocated driver needs) and environment
  driverArgs = if driverSpec.relocated or false then [ "-s" "-S" "-B" ] else [ "-I" "-S" "-B" ];
  driverEnv = homeOf driverSpec;
  sandboxPaths = builtins.concatLists (map (v: v.binds) all)
    ++ builtins.concatLists (map (v: map (c: "${c}=${empty}") v.covers) all)
    ++ [
    # the dynamic loader, libc and the libraries of the extension modules (ssl, zlib, ctypes, …),
    # and C.UTF-8 for LANG; Debian 12 is merged-/usr, /lib64/ld-linux-x86-64.so.2 points into /lib
    "/lib64"
    "/lib/x86_64-linux-gnu=/usr/lib/x86_64-linux-gnu"
    "/usr/lib/x86_64-linux-gnu"
    "/usr/lib/locale"
    # read-only knowledge of the kernel's transparent huge page mode: glibc's malloc reads it to
    # honour GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (driver.py), which cuts the interpreters' page
    # faults by ~60% and their CPU time by ~30% here; `?`: optional where the kernel has no THP
    "/sys/kernel/mm/transparent_hugepage?"
  ];
  pythons = builtins.mapAttrs interpreter versions;
  inherit shipped;
  # `nix-instantiate --eval --strict --json -A shippedDrvPaths nix/interpreters-host.nix` after
  # `nix-instantiate -A shippedList nix/interpreters-host.nix` (which writes the .drv files)
  shippedDrvPaths = builtins.mapAttrs (_: d: d.drvPath) shipped;
  shippedList = builtins.attrValues shipped;
}
