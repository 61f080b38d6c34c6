# Host interpreters (pyenv builds) for the setup.py sandbox.
#
# The interpreters are not in the Nix store: nix-build must expose them read-only
# with `--option extra-sandbox-paths`, at the same path because their RPATH points
# at `<prefix>/lib` (see packages/extractor/src/sandbox/nix.ts, which passes
#   /root/.pyenv/versions/<v> for every version and the system libraries: see sandboxPaths).
# Only the `versions/<v>` directories are bound, never $HOME.  Files there belong
# to root and the build runs as a nixbld user, so the sandbox cannot write them.
#
# setuptools: 2.7 … 3.11 use the copy in their own site-packages; 3.12 and 3.13 ship
# none, so Debian's pure-Python setuptools 66.1.1 wheel is put on PYTHONPATH
# (a wheel is a zip; zipimport loads it; setuptools then also provides `distutils`).
#
# Caveat: the derivation hash sees these paths as strings, not their content:
# rebuilding a pyenv version in place does not invalidate cached results.
{ root ? "/root/.pyenv/versions"
, setuptoolsWheel ? /usr/share/python-wheels/setuptools-66.1.1-py3-none-any.whl
}:
let
  wheel = builtins.path { path = setuptoolsWheel; name = "setuptools-66.1.1-py3-none-any.whl"; };
  v = version: exe: pythonpath: { python = "${root}/${version}/bin/${exe}"; inherit pythonpath; prefix = "${root}/${version}"; };
in {
  # the interpreter that runs driver.py (any Python >= 3.7)
  driver = "${root}/3.11.7/bin/python3.11";
  sandboxPaths = map (version: "${root}/${version}") [
    "2.7.18" "3.6.15" "3.7.16" "3.8.18" "3.9.18" "3.10.13" "3.11.7" "3.12.1" "3.13.0"
  ] ++ [
    # the dynamic loader, libc and the libraries of the extension modules (ssl, zlib, ctypes, …),
    # and C.UTF-8 for LANG; Debian 12 is merged-/usr, /lib64/ld-linux-x86-64.so.2 points into /lib
    "/lib64"
    "/lib/x86_64-linux-gnu=/usr/lib/x86_64-linux-gnu"
    "/usr/lib/x86_64-linux-gnu"
    "/usr/lib/locale"
  ];
  pythons = {
    "27" = v "2.7.18" "python2.7" "";
    "36" = v "3.6.15" "python3.6" "";
    "37" = v "3.7.16" "python3.7" "";
    "38" = v "3.8.18" "python3.8" "";
    "39" = v "3.9.18" "python3.9" "";
    "310" = v "3.10.13" "python3.10" "";
    "311" = v "3.11.7" "python3.11" "";
    "312" = v "3.12.1" "python3.12" "${wheel}";
    "313" = v "3.13.0" "python3.13" "${wheel}";
  };
}
