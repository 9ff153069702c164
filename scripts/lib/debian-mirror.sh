# shellcheck shell=bash
# Sourced by the scripts that debootstrap a Debian root (rabbitmq4.sh, node-base.sh).
# debian_mirror: the Debian mirror apt already uses here (deb822 .sources first, then one-line .list files),
# or $DEBIAN_MIRROR when set.
debian_mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local mirror=''
  mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v -e security -e '^cdrom' | grep -m1 '/debian/\?$' || true)
  if [[ -z $mirror ]]; then
    mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; break } }' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -v security | grep -m1 '/debian/\?$' || true)
  fi
  echo "${mirror:-http://deb.debian.org/debian}"
}
