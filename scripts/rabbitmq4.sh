#!/usr/bin/env bash
# A private RabbitMQ 4.0.5 (Debian 13 "trixie", Erlang 27) next to the machine's own RabbitMQ,
# for CI's second broker leg. It runs from a debootstrapped root cached outside the repository;
# the shared node on 127.0.0.1:5672, its cookie and its config are never touched.
#
#   scripts/rabbitmq4.sh start PORT NAME   node NAME@localhost, AMQP on 127.0.0.1:PORT, dist on PORT+20000
#   scripts/rabbitmq4.sh stop NAME         stop it (idempotent); unmounts the root once no node runs from it
#   scripts/rabbitmq4.sh ctl NAME ARGS...  rabbitmqctl -n NAME@localhost ARGS... (its own cookie)
#   scripts/rabbitmq4.sh build             only build (or check) the cached root
#
# Environment: RABBITMQ4_ROOT (default /var/cache/fib-rpc/rabbitmq-trixie), DEBIAN_MIRROR (default:
# the Debian mirror this machine's apt sources name), RABBITMQ4_START_TIMEOUT_S (default 90), RABBITMQ4_CONF_APPEND
# (lines added to the node's rabbitmq.conf; paths in them as seen inside the root, e.g. /srv/fib-rpc/NAME/...).
# The node's config is 4.3's default for transient non-exclusive queues (denied), guest allowed
# from anywhere (loopback_users.guest = false), listeners on 127.0.0.1 only.
set -euo pipefail

ROOT=${RABBITMQ4_ROOT:-/var/cache/fib-rpc/rabbitmq-trixie}
STAMP="$ROOT/.fib-rpc-root-complete"
LOCK="$ROOT.lock"
START_TIMEOUT_S=${RABBITMQ4_START_TIMEOUT_S:-90}

die() {
  echo "rabbitmq4: $*" >&2
  exit 1
}
log() { echo "rabbitmq4: $*" >&2; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, mount)"

# shellcheck source=lib/debian-mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-mirror.sh"

# Mount points under the root, deepest first.
mounts_under_root() {
  awk -v root="$ROOT" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

unmount_root() {
  local mountpoint
  while read -r mountpoint; do
    [[ -n $mountpoint ]] || continue
    umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint"
  done < <(mounts_under_root)
  [[ -z $(mounts_under_root) ]] || die "could not unmount everything under $ROOT"
}

mount_root() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}

# Processes whose root directory is the cached root (nodes, their epmd if they started one, CLI runs).
processes_in_root() {
  find /proc -mindepth 2 -maxdepth 2 -name root -lname "$ROOT" 2>/dev/null | cut -d/ -f3
}

build_root() {
  [[ -f $STAMP ]] && return 0
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
  }
  if [[ -e $ROOT ]]; then
    # a root without the stamp is what an interrupted build left: start again from nothing
    log "removing the incomplete root $ROOT"
    [[ -z $(processes_in_root) ]] || die "processes still run in the incomplete root $ROOT"
    unmount_root
    rm -rf --one-file-system "$ROOT"
  fi
  local mirror started
  mirror=$(debian_mirror)
  started=$(date +%s)
  log "debootstrap trixie (rabbitmq-server) from $mirror into $ROOT"
  mkdir -p "$(dirname "$ROOT")"
  if ! debootstrap --variant=minbase --include=rabbitmq-server trixie "$ROOT" "$mirror" >"$ROOT.debootstrap.log" 2>&1; then
    tail -n 30 "$ROOT.debootstrap.log" >&2
    [[ -f $ROOT/debootstrap/debootstrap.log ]] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    unmount_root
    die "debootstrap failed (log: $ROOT.debootstrap.log)"
  fi
  [[ -x $ROOT/usr/lib/rabbitmq/bin/rabbitmq-server ]] || die "rabbitmq-server missing from the new root"
  # debootstrap may leave its own mounts behind
  unmount_root
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  chroot "$ROOT" dpkg-query -W -f '${Version}\n' rabbitmq-server >"$STAMP.tmp"
  mv "$STAMP.tmp" "$STAMP"
  log "root built in $(($(date +%s) - started)) s (rabbitmq-server $(cat "$STAMP"))"
}

# Builds the root once; concurrent callers wait for the one building it.
ensure_root() {
  mkdir -p "$(dirname "$ROOT")"
  exec 9>"$LOCK"
  flock -w 900 9 || die "timed out waiting for another build of $ROOT"
  build_root
  exec 9>&-
}

check_name() {
  [[ $1 =~ ^[A-Za-z][A-Za-z0-9_-]*$ ]] || die "bad node name '$1' (letters, digits, _ and -)"
  [[ $1 != rabbit ]] || die "'rabbit' is the shared node's name: pick another"
}

# Per-node files, as seen inside the root and from outside.
node_dir() { echo "/srv/fib-rpc/$1"; }

# The command line running a RabbitMQ script of the root (as root, bypassing the wrapper that
# switches users) with the node's own HOME (so its own cookie) and env file: fills ARGV.
in_root_argv() {
  local name=$1 script=$2
  shift 2
  local dir
  dir=$(node_dir "$name")
  ARGV=(chroot "$ROOT" /usr/bin/env -i
    PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8
    HOME="$dir/home"
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    "/usr/lib/rabbitmq/bin/$script" "$@")
}

ctl() {
  local name=$1
  shift
  check_name "$name"
  [[ -f $STAMP ]] || die "no root at $ROOT (start a node first)"
  [[ -d $ROOT$(node_dir "$name") ]] || die "no node '$name' was started from $ROOT"
  mount_root
  in_root_argv "$name" rabbitmqctl -n "$name@localhost" "$@"
  "${ARGV[@]}"
}

# The node's beam process: in the root, booting rabbit, with this node's HOME (the CLI's beam has no "rabbit boot").
node_pid() {
  local pid cmdline
  for pid in $(processes_in_root); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == beam.smp ]] || continue
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ $cmdline == *" -home $(node_dir "$1")/home "* && $cmdline == *" rabbit boot "* ]]; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

any_node_running() {
  local dir
  for dir in "$ROOT"/srv/fib-rpc/*/; do
    [[ -d $dir ]] || continue
    dir=${dir%/}
    node_pid "${dir##*/}" >/dev/null && return 0
  done
  return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local port=$1 name=$2
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port <= 1024 || port >= 45535)); then die "bad port '$port'"; fi
  ((port != 5672)) || die "5672 is the shared node's port"
  check_name "$name"
  local dist=$((port + 20000))
  ensure_root
  mount_root
  if pid=$(node_pid "$name"); then
    die "node $name is already running (pid $pid): stop it first"
  fi
  port_free "$port" || die "port $port is taken"
  port_free "$dist" || die "dist port $dist is taken"

  local dir host_dir started
  dir=$(node_dir "$name")
  host_dir="$ROOT$dir"
  rm -rf --one-file-system "$host_dir"
  mkdir -p "$host_dir/home" "$host_dir/mnesia" "$host_dir/log"
  # its own cookie: the shared node's is never read
  head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F >"$host_dir/home/.erlang.cookie"
  chmod 400 "$host_dir/home/.erlang.cookie"
  cat >"$host_dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$port
distribution.listener.interface = 127.0.0.1
deprecated_features.permit.transient_nonexcl_queues = false
loopback_users.guest = false
log.file.level = info
log.console = false
EOF
  # extra lines for this node (tests of a config, TLS...); paths in them are seen from inside the root
  [[ -z ${RABBITMQ4_CONF_APPEND:-} ]] || printf '%s\n' "$RABBITMQ4_CONF_APPEND" >>"$host_dir/rabbitmq.conf"
  echo '[].' >"$host_dir/enabled_plugins"
  cat >"$host_dir/rabbitmq-env.conf" <<EOF
NODENAME=$name@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$port
DIST_PORT=$dist
MNESIA_BASE=$dir/mnesia
LOG_BASE=$dir/log
PID_FILE=$dir/pid
CONFIG_FILE=$dir/rabbitmq.conf
ENABLED_PLUGINS_FILE=$dir/enabled_plugins
ERL_EPMD_ADDRESS=127.0.0.1
EOF

  started=$(date +%s%N)
  log "starting $name@localhost (RabbitMQ $(cat "$STAMP")) on 127.0.0.1:$port, dist $dist"
  (
    # the detached node keeps no pipe, lock or terminal of ours: close every fd above 2
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
    done
    exec </dev/null >>"$host_dir/start.out" 2>&1
    in_root_argv "$name" rabbitmq-server -detached
    exec "${ARGV[@]}"
  ) || {
    tail -n 40 "$host_dir/start.out" >&2
    die "rabbitmq-server -detached failed"
  }

  # bounded: the node must appear, then finish booting, within START_TIMEOUT_S
  local deadline=$((SECONDS + START_TIMEOUT_S)) up=0
  in_root_argv "$name" rabbitmqctl -n "$name@localhost" await_startup --timeout 10
  while ((SECONDS < deadline)); do
    if timeout 20 "${ARGV[@]}" >>"$host_dir/start.out" 2>&1; then
      up=1
      break
    fi
    # gone (bad config, port race...): no point waiting any longer
    if ((SECONDS > deadline - START_TIMEOUT_S + 5)) && ! node_pid "$name" >/dev/null; then
      break
    fi
    sleep 1
  done
  if ((!up)); then
    log "node $name did not come up within $START_TIMEOUT_S s; the tail of its log:"
    tail -n 40 "$host_dir/log/$name@localhost.log" >&2 2>/dev/null || echo "(no node log)" >&2
    log "the tail of its start output:"
    tail -n 20 "$host_dir/start.out" >&2
    stop "$name" || true
    die "node $name failed to start"
  fi
  # the AMQP listener answers
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "node $name is up but 127.0.0.1:$port does not answer"
  log "$name@localhost ready in $((($(date +%s%N) - started) / 1000000)) ms: amqp://guest:guest@127.0.0.1:$port"
}

stop() {
  local name=$1
  check_name "$name"
  if [[ ! -d $ROOT ]]; then
    return 0
  fi
  local pid
  if pid=$(node_pid "$name"); then
    mount_root
    in_root_argv "$name" rabbitmqctl -n "$name@localhost" shutdown --timeout 50
    timeout 60 "${ARGV[@]}" >/dev/null 2>&1 ||
      log "shutdown of $name did not finish: killing pid $pid"
    if [[ -d /proc/$pid ]]; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    fi
    [[ ! -d /proc/$pid ]] || die "node $name (pid $pid) would not exit"
    log "stopped $name@localhost"
  fi
  # erl_child_setup, memsup, inet_gethost... follow the node out within moments
  if ! any_node_running; then
    for _ in $(seq 1 100); do
      [[ -z $(processes_in_root | while read -r p; do [[ $(cat "/proc/$p/comm" 2>/dev/null) == epmd ]] || echo "$p"; done) ]] && break
      sleep 0.1
    done
    # an epmd started from the root (only when the machine has none) goes with the last node
    local p
    for p in $(processes_in_root); do
      [[ $(cat "/proc/$p/comm" 2>/dev/null) == epmd ]] && kill "$p" 2>/dev/null
    done
    for _ in $(seq 1 20); do
      [[ -z $(processes_in_root) ]] && break
      sleep 0.1
    done
  fi
  if [[ -z $(processes_in_root) ]]; then
    unmount_root
  else
    log "processes still run in $ROOT ($(processes_in_root | tr '\n' ' ')): left mounted"
  fi
  return 0
}

case ${1:-} in
  start)
    [[ $# == 3 ]] || die "usage: $0 start PORT NAME"
    start "$2" "$3"
    ;;
  stop)
    [[ $# == 2 ]] || die "usage: $0 stop NAME"
    stop "$2"
    ;;
  ctl)
    [[ $# -ge 3 ]] || die "usage: $0 ctl NAME ARGS..."
    name=$2
    shift 2
    ctl "$name" "$@"
    ;;
  build)
    ensure_root
    echo "$ROOT: rabbitmq-server $(cat "$STAMP")"
    ;;
  *)
    die "usage: $0 start PORT NAME | stop NAME | ctl NAME ARGS... | build"
    ;;
esac
