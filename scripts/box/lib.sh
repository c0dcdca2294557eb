# shellcheck shell=bash
# Shared settings for the systemd-nspawn test box. Sourced, not run.
# The root is built once per machine into a cache under /var/tmp and booted
# read-only with a throw-away overlay, so every boot starts from the same tree.

BOX_SUITE=${BOX_SUITE:-trixie}
BOX_CACHE=${BOX_CACHE:-/var/tmp/trl-box}
BOX_ROOT=${BOX_ROOT:-$BOX_CACHE/$BOX_SUITE-root}
BOX_STATE=${BOX_STATE:-$BOX_CACHE/run}
BOX_PACKAGES=${BOX_PACKAGES:-systemd,systemd-sysv,dbus,libpam-systemd,nodejs,procps}

box_log() { printf 'box: %s\n' "$*" >&2; }
box_die() { box_log "error: $*"; exit 1; }

# The Debian mirror this machine's apt already uses (deb822 or one-line format).
box_mirror() {
  local m
  m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
      | grep -oE 'https?://[^ ]+/debian/?' | grep -v -- '-security' | head -n1)
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# The pid of the container's init (the "leader"), or empty when no box runs.
box_leader() {
  local pid
  [ -r "$BOX_STATE/leader" ] || return 0
  pid=$(cat "$BOX_STATE/leader")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then printf '%s\n' "$pid"; fi
}
