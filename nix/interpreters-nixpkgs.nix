# Interpreters from a pinned nixpkgs (production mode).
#
# NOT VERIFIED on the development machine: it has no nixpkgs and no network.
# Pin: set `nixpkgs` to a fetchTarball of a commit that still has python27 and
# python36 (they left nixpkgs in 22.11/21.11; python313 arrived in 24.05), or
# combine two pins.  Everything is in the store, so no extra-sandbox-paths are
# needed (`sandboxPaths` is empty).
{ nixpkgs ? <nixpkgs>, oldNixpkgs ? nixpkgs, system ? builtins.currentSystem }:
let
  pkgs = import nixpkgs { inherit system; };
  old = import oldNixpkgs { inherit system; };
  withSetuptools = py: {
    python = "${py.withPackages (ps: [ ps.setuptools ])}/bin/python";
    pythonpath = "";
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
