#!/usr/bin/env bash
# The broker container's start (docker-compose.yml): writes the broker definitions — an administrator, one user
# per app with only the permissions it needs, the request queue as a quorum queue — with passwords taken from
# the environment (never written into the repository), then runs the given command (the image's entrypoint,
# which drops to the rabbitmq user and loads the file: see 20-fib-rpc.conf). Without a command it only writes
# the file (FIB_RPC_DEFINITIONS_FILE), which is how the tests check it.
set -euo pipefail

out=${FIB_RPC_DEFINITIONS_FILE:-/etc/rabbitmq/definitions.json}
vhost=${RABBITMQ_VHOST:-/}
queue=${RPC_QUEUE:-rpc_queue}

for var in RABBITMQ_ADMIN_USER RABBITMQ_ADMIN_PASSWORD GATEWAY_AMQP_USER GATEWAY_AMQP_PASSWORD \
  WORKER_AMQP_USER WORKER_AMQP_PASSWORD; do
  [[ -n ${!var:-} ]] || { echo "fib-rpc broker start: $var is empty" >&2; exit 1; }
done

# a JSON string (passwords may hold quotes and backslashes; control characters are refused)
json() {
  local s=$1
  [[ $s != *[[:cntrl:]]* ]] || { echo "fib-rpc broker start: control character in a value" >&2; exit 1; }
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
# a regex matching exactly this name
exactly() { printf '^%s$' "$(printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g')"; }

# What each app does on the broker and the permission that takes (probed on RabbitMQ 4.0.5; one less → 403):
#   worker:  declares its request queue when absent (configure), consumes it (read), publishes replies
#            through the default exchange (write on amq.default); its passive check needs nothing
#   gateway: publishes requests through the default exchange (write on amq.default), declares and consumes
#            server-named reply queues amq.gen-* (configure, read); direct reply-to (amq.rabbitmq.reply-to)
#            and the consumer check (a passive declare of the request queue) need no permission
umask 077
cat >"$out.tmp" <<JSON
{
  "vhosts": [{ "name": $(json "$vhost") }],
  "users": [
    { "name": $(json "$RABBITMQ_ADMIN_USER"), "password": $(json "$RABBITMQ_ADMIN_PASSWORD"), "tags": ["administrator"] },
    { "name": $(json "$GATEWAY_AMQP_USER"), "password": $(json "$GATEWAY_AMQP_PASSWORD"), "tags": [] },
    { "name": $(json "$WORKER_AMQP_USER"), "password": $(json "$WORKER_AMQP_PASSWORD"), "tags": [] }
  ],
  "permissions": [
    { "user": $(json "$RABBITMQ_ADMIN_USER"), "vhost": $(json "$vhost"), "configure": ".*", "write": ".*", "read": ".*" },
    {
      "user": $(json "$GATEWAY_AMQP_USER"),
      "vhost": $(json "$vhost"),
      "configure": "^amq\\\\.gen-.*$",
      "write": "^amq\\\\.default$",
      "read": "^amq\\\\.gen-.*$"
    },
    {
      "user": $(json "$WORKER_AMQP_USER"),
      "vhost": $(json "$vhost"),
      "configure": $(json "$(exactly "$queue")"),
      "write": "^amq\\\\.default$",
      "read": $(json "$(exactly "$queue")")
    }
  ],
  "queues": [
    {
      "name": $(json "$queue"),
      "vhost": $(json "$vhost"),
      "durable": true,
      "auto_delete": false,
      "arguments": { "x-queue-type": "quorum" }
    }
  ]
}
JSON
# the broker reads it as the rabbitmq user (the image's entrypoint drops to it)
if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then chown rabbitmq "$out.tmp"; fi
mv "$out.tmp" "$out"

if (($# > 0)); then exec "$@"; fi
