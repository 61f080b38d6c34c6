# The sandbox probe: a derivation that reports what a build can see and reach (nix/probe/probe.py).
# packages/extractor/src/sandbox/probe.ts builds it with the nix-build options of an extraction,
# before the first setup.py runs, and with a fresh nonce each time, so it is always built, never
# found in the store.
{ nonce
, marker                 # a host file that must not be visible inside
, hidden                 # a host directory that must not be visible inside (the repository)
, targets ? "127.0.0.1:5432 127.0.0.1:6379 [::1]:5432 [::1]:6379 1.1.1.1:443 8.8.8.8:53"
, dnsName ? "pypi.org"
, cgroup ? ""             # the name of the build's cgroup the builder must be in ("": none)
, interpreters ? "host"
, shippedDrvs ? null
, hostPythons ? null
}:
let
  set = if interpreters == "host" then import ./interpreters-host.nix { inherit shippedDrvs hostPythons; }
        else import ./interpreters-nixpkgs.nix { };
  probe = builtins.path { path = ./probe/probe.py; name = "pypi-graph-probe.py"; };
  # what Nix itself puts in /, and the top directory of every exposed path (`/a/b=/c` → `a`)
  exposedTops = map (p: builtins.head (builtins.split "/" (builtins.substring 1 (-1) (builtins.head (builtins.split "[=?]" p)))))
    set.sandboxPaths;
in
derivation ({
  name = "pypi-graph-sandbox-probe";
  system = builtins.currentSystem;
  builder = set.driver;
  args = (set.driverArgs or [ "-I" "-S" "-B" ]) ++ [ probe ];
  preferLocalBuild = true;
  allowSubstitutes = false;
  inherit nonce marker hidden targets dnsName cgroup;
  allowedRoot = builtins.concatStringsSep " " ([ "bin" "build" "dev" "etc" "nix" "proc" "tmp" ] ++ exposedTops);
  sandboxPaths = builtins.concatStringsSep " " set.sandboxPaths;
} // (set.driverEnv or { }))
