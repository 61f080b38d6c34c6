#!/bin/sh
# The image's command wrapper (under tini, PID 1). `pnpm <script>` does not pass SIGTERM on to
# the script it runs: it exits at once and the container would end with the worker killed
# mid-job. So the command runs in a process group of its own, and SIGTERM/SIGINT go to the whole
# group (pnpm, tsx, node; tsx tells its node child once). This script then waits until every
# process of the group has exited, so `docker stop` gives workers their time to finish the
# active jobs (stop_grace_period in docker-compose.yml).
set -u
[ "$#" -gt 0 ] || { echo "usage: run.sh COMMAND [ARG...]" >&2; exit 64; }

# A background job of a non-interactive shell is not a group leader: setsid makes it one
# without forking, so $pid is also the process group id.
setsid "$@" &
pid=$!
signalled=
forward() {
  signalled=1
  kill "-$1" "-$pid" 2>/dev/null || true
}
trap 'forward TERM' TERM
trap 'forward INT' INT

status=0
wait "$pid" || status=$?
# `wait` also returns when a trapped signal arrives; wait for the rest of the group (tini, PID 1,
# reaps the processes pnpm leaves behind).
while kill -0 "-$pid" 2>/dev/null; do sleep 0.5; done
# Stopped on request: a clean stop, whatever pnpm's own status (it reports 143).
[ -n "$signalled" ] && exit 0
exit "$status"
