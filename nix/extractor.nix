# One derivation per sdist: run its setup.py under each Python version in the
# Nix build sandbox and write $out/result.json (see nix/extractor/driver.py).
#
#   nix-build nix/extractor.nix --no-out-link \
#     --option sandbox true --option sandbox-fallback false --option substituters "" \
#     --option extra-sandbox-paths "<the list from nix/sandbox-paths.nix, space-separated>" \
#     --argstr sdist /nix/store/<hash>-<filename>  --argstr filename <filename>
#
# (packages/extractor/src/sandbox/run-sandbox.ts does exactly this.)
#
# The sdist is either a store path the worker added with
# `nix-store --add-fixed sha256 <file>` (`sdist`) or, on a machine where Nix may
# fetch, `import <nix/fetchurl.nix> { url; sha256; }` — the two give the same
# store path for the same file name and hash, so the derivation is the same.
{ filename
, sdist ? null
, url ? null
, sha256 ? null
, interpreters ? "host"          # "host" (pyenv) or "nixpkgs"
, pythons ? [ "27" "36" "37" "38" "39" "310" "311" "312" "313" ]
, wallSeconds ? 60
, cpuSeconds ? 30
, memoryMiB ? 1024
, maxProcesses ? 64
, maxOutputBytes ? 1048576
, parallelism ? 3
, diskMiB ? 512                 # per interpreter: its directory is a tmpfs of this size (driver.py)
  # host mode: the shipped setuptools derivations, already instantiated (see interpreters-host.nix)
, shippedDrvs ? null
  # host mode: the interpreter set (JSON, interpreters-host.nix); null: root's nine pyenv versions
, hostPythons ? null
  # Build dependencies (issue 11), per Python key: store paths of wheels the worker resolved
  # against the crawled index and added with `nix-store --add-fixed sha256` (the sha256 the index
  # published), e.g. { "311" = [ "/nix/store/<hash>-plugin-1.0-py3-none-any.whl" ]; }.
  # Fixed-output paths: nothing is fetched inside the sandbox.
, buildWheels ? { }
  # A PEP 517 build-backend to call instead of running setup.py ("": none), and its backend-path
, backend ? ""
, backendPath ? "[]"
}:
let
  set = if interpreters == "host" then import ./interpreters-host.nix { inherit shippedDrvs hostPythons; }
        else if interpreters == "nixpkgs" then import ./interpreters-nixpkgs.nix { }
        else throw "interpreters must be \"host\" or \"nixpkgs\"";
  src = if sdist != null then builtins.storePath sdist
        else import <nix/fetchurl.nix> { inherit url sha256; name = storeName; };
  # store path names allow [A-Za-z0-9+._?=-] only (run-sandbox.ts: storeName does the same)
  # byte-wise, so `é` (two UTF-8 bytes) is `__`
  storeName =
    let
      parts = builtins.split "[^A-Za-z0-9+._?=-]" filename;
      s = builtins.concatStringsSep "" (map (x: if builtins.isList x then "_" else x) parts);
    in
    if builtins.substring 0 1 s == "." then "_" + builtins.substring 1 (builtins.stringLength s) s else s;
  # only the two scripts: a stray .pyc or __pycache__ must not change the derivation
  extractor = builtins.path {
    path = ./extractor;
    name = "pypi-graph-extractor";
    filter = p: type: builtins.elem (baseNameOf p) [ "driver.py" "extract.py" ];
  };
  toInt = x: if builtins.isString x then builtins.fromJSON x else x;
  # an interpreter without build dependencies is described as before (the same derivation)
  withWheels = k: spec:
    if (buildWheels.${k} or [ ]) == [ ] then spec
    else spec // { wheels = map builtins.storePath buildWheels.${k}; };
  selected = builtins.listToAttrs (map (k: { name = k; value = withWheels k set.pythons.${k}; }) pythons);
in
derivation ({
  name = "setup-py-deps";
  system = builtins.currentSystem;
  builder = set.driver;
  # build here, without asking the build hook (/usr/libexec/nix/build-remote, ~0.1 s per build)
  # for a remote builder, and never from a binary cache: the result is this machine's to compute
  preferLocalBuild = true;
  allowSubstitutes = false;
  args = (set.driverArgs or [ "-I" "-S" "-B" ]) ++ [ "${extractor}/driver.py" ];
  inherit filename src extractor;
  # Not read by the builder: here so that another sandbox exposure is another derivation.
  sandboxPaths = builtins.concatStringsSep " " set.sandboxPaths;
  pythons = builtins.toJSON selected;
  wallSeconds = toString (toInt wallSeconds);
  cpuSeconds = toString (toInt cpuSeconds);
  memoryMiB = toString (toInt memoryMiB);
  maxProcesses = toString (toInt maxProcesses);
  maxOutputBytes = toString (toInt maxOutputBytes);
  parallelism = toString (toInt parallelism);
  diskMiB = toString (toInt diskMiB);
}
// (set.driverEnv or { })
// (if backend == "" then { } else { inherit backend backendPath; }))
