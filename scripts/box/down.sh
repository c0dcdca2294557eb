#!/bin/bash
# Shut the box down: SIGRTMIN+4 asks the container's systemd for a clean
# poweroff; systemd-nspawn then exits. The overlay (all changes) is discarded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
leader=$(box_leader)
nspawn=$(cat "$BOX_STATE/nspawn" 2>/dev/null || true)
if [ -n "$leader" ]; then
  kill -s RTMIN+4 "$leader" 2>/dev/null || true
fi
if [ -n "$nspawn" ]; then
  for _ in $(seq 1 200); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$nspawn" 2>/dev/null; then
    box_log "no clean shutdown in 10 s; killing systemd-nspawn $nspawn"
    kill -KILL "$nspawn" 2>/dev/null || true
  fi
fi
rm -f "$BOX_STATE/leader" "$BOX_STATE/nspawn"
box_log "down"
