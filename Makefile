# trl — build, run, test, bench. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
export npm_config_nodedir := /usr
NODE ?= node
RUN_DIR ?= /tmp/trl-$(shell id -u)
SOCKET ?= $(RUN_DIR)/trl.sock

.PHONY: all deps system-deps build run test bench chaos clean

all: build

# Installs missing Debian packages (as root); as anyone else it only says what is missing.
define apt_install
missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ]; then \
    echo "installing" $$missing >&2; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null </dev/null; \
  else echo "note: not installed (needs root):" $$missing >&2; fi; \
fi
endef

# What the tests need beyond Node: libsystemd-dev so the sd-notify addon builds
# (the readiness tests), procps, python3 (interactive-input tests), util-linux (prlimit, runuser).
TEST_APT := libsystemd-dev procps python3 util-linux

system-deps:
	@$(call apt_install,$(TEST_APT))

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json

# The daemon in the foreground on a socket in a private directory. As root it
# needs TRL_ALLOW_ROOT, since commands would then run as root.
# The directory must be ours alone: one made by another user could swap the socket and read every request.
run: build
	@mkdir -p -m 700 $(RUN_DIR)
	@if [ -L "$(RUN_DIR)" ] || [ ! -O "$(RUN_DIR)" ] || [ -n "$$(find "$(RUN_DIR)" -maxdepth 0 -perm /022)" ]; then \
	  echo "refusing $(RUN_DIR): not a private directory of $$(id -un) (owner $$(stat -c %U "$(RUN_DIR)"), mode $$(stat -c %a "$(RUN_DIR)")$$([ -L "$(RUN_DIR)" ] && echo ', a symlink')); another user may have made it to receive your requests. Remove it, or run make run RUN_DIR=<a directory of yours, mode 0700>" >&2; exit 1; fi
	@echo "trld on $(SOCKET) — try: TRL_SOCKET_PATH=$(SOCKET) bin/trl exec -- uname -a" >&2
	TRL_SOCKET_PATH=$(SOCKET) $(if $(filter 0,$(shell id -u)),TRL_ALLOW_ROOT=1) $(NODE) bin/trld

# As root, the daemon under test runs as an unprivileged user that test-setup creates.
test: system-deps build
	@eval "$$(scripts/test-setup.sh)" && $(NODE) --test --test-reporter=spec $$(find dist/test/unit dist/test/integration dist/test/reliability -name '*.test.js' 2>/dev/null | sort)

bench: build
	@eval "$$(scripts/test-setup.sh)" && $(NODE) dist/bench/run.js

# The long reliability runs (fuzzing 10 000+ lines, 64×100 load, 1 000-connection churn, crash with 20 commands).
chaos: build
	@eval "$$(scripts/test-setup.sh)" && $(NODE) --test --test-reporter=spec dist/test/reliability/chaos.long.js

clean:
	rm -rf dist build

-include mk/packaging.mk
