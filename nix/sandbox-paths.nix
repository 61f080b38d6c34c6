# Prints the extra-sandbox-paths an interpreter set needs:
#   nix-instantiate --eval --strict --json nix/sandbox-paths.nix
{ interpreters ? "host" }:
(if interpreters == "host" then import ./interpreters-host.nix { } else import ./interpreters-nixpkgs.nix { }).sandboxPaths
