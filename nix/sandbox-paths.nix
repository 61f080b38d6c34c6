# Prints the extra-sandbox-paths an interpreter set needs:
#   nix-instantiate --eval --strict --json nix/sandbox-paths.nix
# (`--argstr hostPythons '<json>'`: the set of SANDBOX_PYTHONS or discovery, see interpreters-host.nix)
{ interpreters ? "host", hostPythons ? null }:
(if interpreters == "host" then import ./interpreters-host.nix { inherit hostPythons; } else import ./interpreters-nixpkgs.nix { }).sandboxPaths
