#!/bin/bash
# Run one command inside the running box, as root, with a clean environment.
# Usage: scripts/box/run.sh CMD [ARGS...]   (stdin and exit status pass through)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
leader=$(box_leader)
[ -n "$leader" ] || box_die "box is not running: scripts/box/up.sh"
exec nsenter -t "$leader" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 TERM=dumb HOME=/root "$@"
