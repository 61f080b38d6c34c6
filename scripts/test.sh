#!/usr/bin/env bash
# The test suite, with everything it needs, on a Debian 12 machine that has Node (≥ 20.15):
#   bash scripts/test.sh            every test (about 10+ minutes on two cores)
#   bash scripts/test.sh test/e2e   only some (arguments go to vitest)
# It installs what is missing and starts what is not running: pnpm (npm), Nix (nix-bin: the
# setup.py sandbox), docker-compose (validates docker-compose.yml; no engine needed), PostgreSQL
# and Redis (apt), then the dependencies (pnpm install), then runs vitest against them.
# apt needs root (or password-less sudo). Without either, provide these yourself (README.md,
# "Run the tests"): the script uses what it finds and says what is still missing.
# .ci/run calls this script.
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive COREPACK_INTEGRITY_CHECK=0

log() { printf '== %s\n' "$*" >&2; }
missing=()

# Root, or sudo without a password, for apt and for starting the services.
if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root() { sudo -n "$@"; }
else
  as_root() { return 1; }
fi

apt_updated=
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq >/dev/null || return 1; apt_updated=1; fi
  as_root apt-get install -y -qq "$@" >/dev/null
}

# pnpm, the version pinned by packageManager in package.json.
want_pnpm=$(node -p 'require("./package.json").packageManager.split("@")[1]') || exit 1
if [ "$(pnpm --version 2>/dev/null)" != "$want_pnpm" ]; then
  log "installing pnpm $want_pnpm"
  if ! npm install -g "pnpm@$want_pnpm" >/dev/null 2>&1; then
    # No write access to npm's global prefix (not root): a prefix of our own.
    npm install -g --prefix "$HOME/.local" "pnpm@$want_pnpm" >/dev/null 2>&1 &&
      export PATH="$HOME/.local/bin:$PATH" || { echo "cannot install pnpm $want_pnpm with npm" >&2; exit 1; }
  fi
fi

# Nix: the setup.py sandbox (the sandbox tests fail without it).
if ! command -v nix-build >/dev/null 2>&1; then
  log "installing nix-bin"
  apt_install nix-bin || missing+=("nix-build (apt-get install nix-bin, or Nix's installer)")
fi

# A Compose implementation to validate docker-compose.yml with (no Docker engine needed).
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  log "installing docker-compose"
  apt_install docker-compose || missing+=("docker-compose (apt-get install docker-compose, or the Compose v2 plugin)")
fi

# PostgreSQL on 127.0.0.1:5432, trust authentication, unless TEST_DATABASE_URL names another.
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "installing postgresql"
      if apt_install postgresql; then
        hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)
        as_root sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+(postgres|all)\s+)\S+/\1trust/' "$hba"
      fi
    fi
    if ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "starting postgresql"
      as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
  # Not running: left unset, so the tests use testcontainers when a Docker engine answers.
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
  else
    missing+=("PostgreSQL on 127.0.0.1:5432 (or set TEST_DATABASE_URL, or run a Docker engine)")
  fi
fi

# Redis on 127.0.0.1:6379, unless TEST_REDIS_URL names another.
if [ -z "${TEST_REDIS_URL:-}" ]; then
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    if ! command -v redis-server >/dev/null 2>&1; then
      log "installing redis"
      apt_install redis-server || true
    fi
    if command -v redis-server >/dev/null 2>&1; then
      log "starting redis"
      dir=${XDG_RUNTIME_DIR:-/tmp}/pypi-graph-test-redis
      mkdir -p "$dir"
      redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir "$dir" --logfile "$dir/redis.log"
      for _ in $(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 1; done
    fi
  fi
  if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    export TEST_REDIS_URL=redis://127.0.0.1:6379
  else
    missing+=("Redis on 127.0.0.1:6379 (or set TEST_REDIS_URL, or run a Docker engine)")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  log "missing (not root, or apt failed); the tests that need these will fail:"
  for m in "${missing[@]}"; do log "  $m"; done
fi

log "installing dependencies"
pnpm install --frozen-lockfile --reporter=append-only >/dev/null || { echo "pnpm install failed" >&2; exit 1; }

log "tests (TEST_DATABASE_URL=${TEST_DATABASE_URL:-unset} TEST_REDIS_URL=${TEST_REDIS_URL:-unset})"
exec pnpm exec vitest run "$@"
