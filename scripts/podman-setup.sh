#!/usr/bin/env bash
# Podman as this machine can run it (idempotent; CI's image leg calls it on every run):
#   - Debian's podman 4.3 with runc: crun refuses this machine's hybrid (v1 + unified) cgroups;
#   - /etc/containers/containers.conf: no default ulimits (the sandbox refuses to raise RLIMIT_NPROC and
#     RLIMIT_NOFILE, which podman's defaults ask for) and runc as the OCI runtime.
# A containers.conf that already exists and was not written here is left alone (and reported).
set -euo pipefail

CONF=/etc/containers/containers.conf
MARK='# written by fib-rpc scripts/podman-setup.sh'

die() {
  echo "podman-setup: $*" >&2
  exit 1
}
[[ $(id -u) == 0 ]] || die "needs root (apt-get, /etc/containers)"

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
if ((${#missing[@]} > 0)); then
  echo "podman-setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get install -y -q "${missing[@]}" >/dev/null ||
    { timeout 300 apt-get update -q >/dev/null && timeout 600 apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

if [[ ! -f $CONF ]] || grep -qxF "$MARK" "$CONF"; then
  mkdir -p "$(dirname "$CONF")"
  cat >"$CONF.tmp" <<CONF
$MARK
[containers]
default_ulimits = []

[engine]
runtime = "runc"
CONF
  mv "$CONF.tmp" "$CONF"
else
  echo "podman-setup: $CONF exists and is not ours: left as it is" >&2
fi

# bounded: a wedged storage lock or runtime shows here, not as a hung build later
timeout 60 podman info --format '{{.Host.OCIRuntime.Name}} {{.Version.Version}}' >/dev/null ||
  die "podman does not answer (podman info)"
echo "podman-setup: podman $(podman --version | awk '{print $3}'), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}')" >&2
