# Packaging and the end-to-end proof in a real systemd. Included by the
# top-level Makefile (which defines `build` and exports npm_config_nodedir).
#
#   make packaging-deps  Debian packages for building and proving the package (root; once per machine)
#   make bundle       esbuild bundles of trld and trl + the sd-notify addon -> build/bundle/
#   make deb          the .deb (debhelper) -> build/deb/, lintian must be clean
#   make e2e          installs that .deb in a booted Debian trixie box (systemd-nspawn)
#                     and checks the service end to end
#   make box-shell    an interactive shell in a fresh box (for debugging)

BUNDLE_DIR ?= build/bundle
DEB_DIR ?= build/deb
PACKAGING_APT := libsystemd-dev debhelper dpkg-dev lintian debootstrap systemd-container

.PHONY: packaging-deps bundle deb e2e box box-shell

packaging-deps:
	@$(call apt_install,$(PACKAGING_APT))

bundle: build
	node packaging/bundle.mjs --out $(BUNDLE_DIR)

deb: packaging-deps bundle
	packaging/build-deb.sh $(BUNDLE_DIR) $(DEB_DIR)

box: packaging-deps
	scripts/box/build.sh

e2e: deb box
	test/e2e/run.sh $(DEB_DIR)

box-shell: box
	scripts/box/up.sh >/dev/null
	-scripts/box/run.sh bash
	scripts/box/down.sh
