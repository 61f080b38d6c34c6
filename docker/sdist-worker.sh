#!/bin/sh
# Entry point of the sdist-worker image (under tini). Proves that the Nix build sandbox can start
# in this container, then runs the command through run.sh.
#
# The check builds a trivial derivation (Nix's built-in buildenv, no download) with
# `sandbox = true` and `sandbox-fallback = false`: if the container lacks what the sandbox needs
# (see the sdist-worker service in docker-compose.yml), this fails here, once, with Nix's
# message, instead of every sdist failing with `sandbox-failed` later. The nonce makes it a
# fresh build each start; its output is garbage for the next collection.
set -eu
nonce="$(date +%s%N)-$$"
expr="derivation { name = \"pypi-graph-sandbox-check\"; system = builtins.currentSystem; builder = \"builtin:buildenv\"; manifest = \"/dev/null\"; derivations = \"\"; nonce = \"$nonce\"; }"
if ! out=$(nix-build --no-out-link --option sandbox true --option sandbox-fallback false \
  --option substituters "" -E "$expr" 2>&1); then
  printf '%s\n' "$out" >&2
  cat >&2 <<'MSG'
pypi-graph: the Nix build sandbox cannot start in this container, so setup.py cannot run.
It needs security_opt seccomp=./docker/seccomp-nix-sandbox.json, apparmor=unconfined and
systempaths=unconfined (docker compose v2; see the sdist-worker service in docker-compose.yml).
"cloning builder process: Operation not permitted" means Docker's default seccomp profile is in
force; "mounting /proc: Operation not permitted" means systempaths=unconfined is missing.
MSG
  exit 78
fi
echo "pypi-graph: Nix build sandbox OK" >&2
exec "$(dirname "$0")/run.sh" "$@"
