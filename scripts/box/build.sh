#!/bin/bash
# Build the box root once per machine: Debian minbase with systemd and the
# distribution's own nodejs. Idempotent: a finished root carries a stamp.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The stamp records what the root was built with; a different list rebuilds it.
stamp=$BOX_ROOT/.trl-box-complete
want="suite=$BOX_SUITE packages=$BOX_PACKAGES"
if [ -e "$stamp" ] && [ "$(head -n1 "$stamp")" = "$want" ]; then
  box_log "root ready: $BOX_ROOT ($(tail -n1 "$stamp"))"
  exit 0
fi
if [ -n "$(box_leader)" ]; then box_die "the box is running from the old root: scripts/box/down.sh first"; fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need debootstrap || ! need systemd-nspawn || ! need nsenter; then
  box_log "installing debootstrap and systemd-container"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container util-linux >/dev/null
fi

mirror=$(box_mirror)
rm -rf "$BOX_ROOT"
mkdir -p "$BOX_CACHE"
box_log "debootstrap $BOX_SUITE from $mirror into $BOX_ROOT"
start=$(date +%s%N)
debootstrap --variant=minbase --include="$BOX_PACKAGES" "$BOX_SUITE" "$BOX_ROOT" "$mirror" \
  >"$BOX_CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$BOX_CACHE/debootstrap.log" >&2; box_die "debootstrap failed"; }

# Make the root quiet and bootable as a container: no getty on a console that
# nobody reads, no hostname collisions, apt pointed at the same mirror.
echo trl-box >"$BOX_ROOT/etc/hostname"
printf 'deb %s %s main\n' "$mirror" "$BOX_SUITE" >"$BOX_ROOT/etc/apt/sources.list"
: >"$BOX_ROOT/etc/machine-id"
chroot "$BOX_ROOT" systemctl mask console-getty.service getty@tty1.service systemd-networkd-wait-online.service >/dev/null 2>&1 || true

ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf '%s\nbuilt %s in %s ms, node %s, %s\n' "$want" "$(date -u +%FT%TZ)" "$ms" \
  "$(chroot "$BOX_ROOT" node --version)" "$(chroot "$BOX_ROOT" systemctl --version | head -n1)" >"$stamp"
box_log "root ready: $(tail -n1 "$stamp")"
