#!/bin/bash
# Boot the box in the background and wait until its systemd is up.
# Extra host folders can be shown inside read-only: BOX_BIND="HOSTDIR:/mnt/x ...".
# Prints the leader pid (the container's PID 1 as seen from the host).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -e "$BOX_ROOT/.trl-box-complete" ] || box_die "no root at $BOX_ROOT: run scripts/box/build.sh first"
if leader=$(box_leader) && [ -n "$leader" ]; then
  box_log "already running, leader $leader"; echo "$leader"; exit 0
fi

mkdir -p "$BOX_STATE"
rm -f "$BOX_STATE/leader" "$BOX_STATE/nspawn"
binds=()
for b in ${BOX_BIND:-}; do binds+=("--bind-ro=$b"); done

# --register=no and --keep-unit: there is no host systemd/machined to talk to.
# --volatile=overlay: the cached root stays pristine; every boot starts clean.
start=$(date +%s%N)
setsid systemd-nspawn -q -D "$BOX_ROOT" --register=no --keep-unit --volatile=overlay \
  --machine=trl-box "${binds[@]}" -b </dev/null >"$BOX_STATE/console.log" 2>&1 &
nspawn=$!
echo "$nspawn" >"$BOX_STATE/nspawn"

# The leader is nspawn's child that runs systemd as the container's init.
leader=
for _ in $(seq 1 200); do
  kill -0 "$nspawn" 2>/dev/null || { cat "$BOX_STATE/console.log" >&2; box_die "systemd-nspawn exited"; }
  for c in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
    if [ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ]; then leader=$c; fi
  done
  [ -n "$leader" ] && break
  sleep 0.05
done
[ -n "$leader" ] || box_die "no container init found under nspawn pid $nspawn"
echo "$leader" >"$BOX_STATE/leader"

inbox() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# Wait for the manager to finish booting (running, or degraded: dbus may fail in a minimal root).
state=
for _ in $(seq 1 300); do
  state=$(inbox systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.1
done
case "$state" in running|degraded) ;; *) box_die "boot did not finish (state: ${state:-none})" ;; esac

# /dev/null comes from the host with mode 0620 on some machines; apt and
# daemons need it world-writable.
inbox chmod 0666 /dev/null
box_log "up in $(( ($(date +%s%N) - start) / 1000000 )) ms, leader $leader, state $state"
echo "$leader"
