#!/usr/bin/env bash
# A cluster node's start (docker-compose.cluster.yml): writes the Erlang cookie every node of the cluster shares
# (nodes and CLI tools only talk to peers holding the same one) from RABBITMQ_ERLANG_COOKIE_FILE (a secret file)
# or RABBITMQ_ERLANG_COOKIE_VALUE, owned by the rabbitmq user and readable by it alone, then runs the given
# command (docker/rabbitmq/start.sh, which writes the definitions and hands over to the image's entrypoint).
# FIB_RPC_COOKIE_PATH (default /var/lib/rabbitmq/.erlang.cookie, the image's HOME) is where it goes; the tests
# point it elsewhere.
set -euo pipefail

path=${FIB_RPC_COOKIE_PATH:-/var/lib/rabbitmq/.erlang.cookie}
if [[ -n ${RABBITMQ_ERLANG_COOKIE_FILE:-} ]]; then
  cookie=$(<"$RABBITMQ_ERLANG_COOKIE_FILE")
else
  cookie=${RABBITMQ_ERLANG_COOKIE_VALUE:-}
fi
# Erlang takes the cookie as an atom: letters, digits, '-', '_' and '.' keep it portable across tools
[[ -n $cookie ]] || { echo "fib-rpc cluster node: the Erlang cookie is empty" >&2; exit 1; }
[[ $cookie =~ ^[A-Za-z0-9._-]{16,255}$ ]] \
  || { echo "fib-rpc cluster node: the Erlang cookie must be 16-255 of A-Z a-z 0-9 . _ -" >&2; exit 1; }

umask 077
rm -f "$path"
printf '%s' "$cookie" >"$path"
chmod 400 "$path"
if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then chown rabbitmq:rabbitmq "$path"; fi

if (($# > 0)); then exec "$@"; fi
