#!/usr/bin/env bash
# Prepares this machine for the daemon tests and prints `export` lines for the test run.
# As root: makes the unprivileged user the daemon under test runs as, restores
# /dev/null to the standard 0666 (some hosts ship 0620, which breaks any
# unprivileged program), and, when that user cannot read the checkout, stages
# a readable copy of the build. As anyone else: the daemon runs as you.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ "$(id -u)" -ne 0 ]; then
  echo "export TRL_TEST_DAEMON_ROOT=$repo"
  exit 0
fi
user=trl-test
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user" >&2
fi
[ "$(stat -c %a /dev/null)" = 666 ] || chmod 0666 /dev/null
root=$repo
if ! runuser -u "$user" -- test -r "$repo/dist/src/main.js" 2>/dev/null; then
  root=/tmp/trl-test-stage
  rm -rf "$root"
  mkdir -p "$root"
  cp -a "$repo/dist" "$repo/node_modules" "$repo/package.json" "$repo/bin" "$root/"
  chmod -R a+rX "$root"
fi
echo "export TRL_TEST_USER=$user TRL_TEST_DAEMON_ROOT=$root"
