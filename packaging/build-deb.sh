#!/bin/bash
# Builds the trl .deb from the bundle, the units and packaging/, then runs
# lintian on it. Usage: packaging/build-deb.sh BUNDLE_DIR OUT_DIR
# The .deb lands in OUT_DIR; the lintian report in OUT_DIR/lintian.txt.
# Fails on any lintian error or warning.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bundle=$(realpath -m "${1:?bundle dir}")
out=$(realpath -m "${2:?output dir}")

need=()
command -v dh >/dev/null || need+=(debhelper)
command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
command -v lintian >/dev/null || need+=(lintian)
if [ ${#need[@]} -gt 0 ]; then
  echo "build-deb: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

for f in trld.js trld-main.js trl.js trl-main.js notify.node trl_native.node; do
  [ -s "$bundle/$f" ] || { echo "build-deb: $bundle/$f missing: run make bundle" >&2; exit 1; }
done

# The package version (debian/changelog) must be the version the bundle carries.
deb_version=$(dpkg-parsechangelog -l "$repo/packaging/debian/changelog" -S Version)
if [ -r "$bundle/VERSION" ] && [ "$(cat "$bundle/VERSION")" != "${deb_version%%-*}" ]; then
  echo "build-deb: packaging/debian/changelog says $deb_version, the bundle (package.json) $(cat "$bundle/VERSION"): add a changelog entry (dch -v)" >&2
  exit 1
fi

# Stage a build tree: debian/ from packaging/, units from systemd/.
work=$(mktemp -d /tmp/trl-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/trl
mkdir -p "$src/conf"
cp -a "$repo/packaging/debian" "$src/debian"
cp -a "$repo/packaging/man" "$src/man"
cp "$repo/packaging/trl.env" "$src/conf/trl.env"
cp "$repo/systemd/trl.socket" "$src/debian/trl.socket"
cp "$repo/systemd/trl.service" "$src/debian/trl.service"
# The user instance's units: installed as files (debian/trl.install), never
# enabled for anyone by the package; each user enables their own.
mkdir -p "$src/user"
cp "$repo/systemd/user/trl.socket" "$repo/systemd/user/trl.service" "$src/user/"
cp -a "$bundle" "$src/bundle"

(cd "$src" && dpkg-buildpackage -b -us -uc --no-sign -Zxz >"$work/build.log" 2>&1) || { tail -n 40 "$work/build.log" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/trl_*.deb
cp "$work"/trl_*.deb "$out/"
deb=$(ls "$out"/trl_*.deb)
echo "build-deb: $deb ($(du -k "$deb" | cut -f1) KiB)"

# lintian over the binary package: the report shows overridden tags with their
# reasons; the gate (without --show-overrides, which would count them) fails
# the build on any error or warning.
lintian --display-info --show-overrides "$deb" >"$out/lintian.txt" 2>&1 || true
lintian --fail-on error,warning "$deb" >/dev/null 2>&1 && status=0 || status=$?
grep -v "running with root privileges" "$out/lintian.txt" | sed "s/^/lintian: /" || true
echo "build-deb: lintian $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings, $(grep -c '^I:' "$out/lintian.txt" || true) info, $(grep -c '^O:' "$out/lintian.txt" || true) overridden"
exit "$status"
