# Interpreters from a pinned nixpkgs (production mode).
#
# NOT VERIFIED on the development machine: it has no nixpkgs and no network.
# Pin: set `nixpkgs` to a fetchTarball of a commit that still has python27 and
# python36 (they left nixpkgs in 22.11/21.11; python313 arrived in 24.05), or
# combine two pins.  Everything is in the store, so no extra-sandbox-paths are
# needed (`sandboxPaths` is empty).
# oldNixpkgs: an `oldNixpkgs=…` entry of the Nix search path when there is one (the sdist-worker
# image and docs/operations.md set it, for 2.7 and 3.6 … 3.8), else the same tree as nixpkgs.
{ nixpkgs ? <nixpkgs>
, oldNixpkgs ? (let e = builtins.filter (x: x.prefix == "oldNixpkgs") builtins.nixPath;
                in if e == [ ] then nixpkgs else (builtins.head e).path)
, system ? builtins.currentSystem }:
let
  pkgs = import nixpkgs { inherit system; };
  old = import oldNixpkgs { inherit system; };
  # extract.py runs with `-s -S`: sys.path is the standard library plus `path`, the
  # site-packages of that interpreter's setuptools package alone (compiled by nixpkgs)
  withSetuptools = py: {
    python = "${py}/bin/${py.executable}";
    path = [ "${py.pkgs.setuptools}/${py.sitePackages}" ];
    prefix = "${py}";
  };
in {
  driver = "${pkgs.python3}/bin/python3";
  sandboxPaths = [ ];
  pythons = {
    "27" = withSetuptools old.python27;
    "36" = withSetuptools old.python36;
    "37" = withSetuptools old.python37;
    "38" = withSetuptools old.python38;
    "39" = withSetuptools pkgs.python39;
    "310" = withSetuptools pkgs.python310;
    "311" = withSetuptools pkgs.python311;
    "312" = withSetuptools pkgs.python312;
    "313" = withSetuptools pkgs.python313;
  };
}
