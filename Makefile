# trl — build, run, test, bench. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
export npm_config_nodedir := /usr
NODE ?= node
RUN_DIR ?= /tmp/trl-$(shell id -u)
SOCKET ?= $(RUN_DIR)/trl.sock

.PHONY: all deps system-deps native sd-notify build run test test-fallback bench chaos clean FORCE

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

# What the tests need beyond Node: a C compiler (trl_native, sd-notify),
# libsystemd-dev so the sd-notify addon builds (the readiness tests), procps,
# python3 (interactive-input tests, node-gyp), util-linux (prlimit, runuser).
TEST_APT := gcc g++ make libsystemd-dev procps python3 util-linux

system-deps:
	@$(call apt_install,$(TEST_APT))

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

# The native addons are an explicit step that fails loudly: a daemon without
# them still runs (with a warning), so a build that lost one must not pass.
# trl_native rebuilds when its sources, binding.gyp, or Node's version or
# headers change (build/native-inputs.txt holds what it was built against).
NODE_GYP ?= $(NODE) $(dir $(realpath $(shell command -v npm)))../node_modules/node-gyp/bin/node-gyp.js
NATIVE_ADDON := native/build/Release/trl_native.node
NATIVE_INPUTS := build/native-inputs.txt

$(NATIVE_INPUTS): FORCE
	@mkdir -p $(@D)
	@{ $(NODE) -p 'process.version + " abi " + process.versions.modules + " napi " + process.versions.napi'; \
	  stat -c '%n %Y %s' $(npm_config_nodedir)/include/node/node_api.h $(npm_config_nodedir)/include/node/uv.h; } > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(NATIVE_ADDON): native/binding.gyp $(wildcard native/*.c native/*.h) $(NATIVE_INPUTS)
	$(NODE_GYP) rebuild --directory native --loglevel warn
	@touch $@

native: deps $(NATIVE_ADDON) sd-notify
	@$(NODE) -e 'const a = require("./$(NATIVE_ADDON)"); for (const f of ["harden", "spawn", "watchExit", "sendSignal", "becomeSubreaper", "reapChild", "readFd", "readStart", "readStop", "readInto", "readClose", "jsonRunEnd"]) if (typeof a[f] !== "function") throw new Error("trl_native exports no " + f)' \
	  || { echo "make: $(NATIVE_ADDON) did not build or does not load (needs a C compiler and Node's headers under $(npm_config_nodedir)/include/node)" >&2; exit 1; }

# sd-notify is an optional dependency: npm ci drops it, silently, when
# libsystemd-dev is missing at that moment. Once the headers are there it is
# installed again here (npm ci: npm rebuild cannot bring back a removed package).
# Without it trld runs but cannot tell systemd it is ready: enough for
# `make run` (a note), not for the tests or the package (an error).
SD_NOTIFY_ADDON := node_modules/sd-notify/build/Release/notify.node
SD_NOTIFY_MISSING = echo "make: the sd-notify addon did not build: install libsystemd-dev (make system-deps, as root), then run make again" >&2
sd-notify: deps
	@test -f $(SD_NOTIFY_ADDON) || ! test -f /usr/include/systemd/sd-daemon.h \
	  || if test -d node_modules/sd-notify; then npm rebuild sd-notify --loglevel warn; else npm ci --no-audit --no-fund --loglevel warn; fi
	@test -f $(SD_NOTIFY_ADDON) || { $(SD_NOTIFY_MISSING); $(if $(SD_NOTIFY_OPTIONAL),echo "note: make run goes on without it (no readiness notification, which only systemd uses)" >&2,exit 1); }

build: deps native
	npx tsc -p tsconfig.json

# The daemon in the foreground on a socket in a private directory. As root it
# needs TRL_ALLOW_ROOT, since commands would then run as root. Core size 0: a
# crash must not write the daemon's memory (every session's secrets) to disk.
# The directory must be ours alone: one made by another user could swap the socket and read every request.
# A fresh machine may lack libsystemd-dev: the daemon runs without the sd-notify addon.
run: SD_NOTIFY_OPTIONAL := 1
run: build
	@mkdir -p -m 700 $(RUN_DIR)
	@if [ -L "$(RUN_DIR)" ] || [ ! -O "$(RUN_DIR)" ] || [ -n "$$(find "$(RUN_DIR)" -maxdepth 0 -perm /022)" ]; then \
	  echo "refusing $(RUN_DIR): not a private directory of $$(id -un) (owner $$(stat -c %U "$(RUN_DIR)"), mode $$(stat -c %a "$(RUN_DIR)")$$([ -L "$(RUN_DIR)" ] && echo ', a symlink')); another user may have made it to receive your requests. Remove it, or run make run RUN_DIR=<a directory of yours, mode 0700>" >&2; exit 1; fi
	@echo "trld on $(SOCKET) — try: TRL_SOCKET_PATH=$(SOCKET) bin/trl exec -- uname -a" >&2
	ulimit -c 0 && TRL_SOCKET_PATH=$(SOCKET) $(if $(filter 0,$(shell id -u)),TRL_ALLOW_ROOT=1) exec $(NODE) bin/trld

# As root, the daemon under test runs as an unprivileged user that test-setup creates.
# `make test` runs the suite with the default spawner (native); `make
# test-fallback` runs every test that starts a daemon again with
# child_process, the fallback (the unit tests start none).
# scripts/reap reaps what the tests' commands daemonize, as PID 1 does under systemd.
TEST_FILES = $$(find dist/test/unit dist/test/integration dist/test/reliability -name '*.test.js' 2>/dev/null | sort)
test: system-deps build
	@eval "$$(scripts/test-setup.sh)" && scripts/reap $(NODE) --test --test-reporter=spec $(TEST_FILES)

test-fallback: system-deps build
	@eval "$$(scripts/test-setup.sh)" && TRL_SPAWNER=child_process scripts/reap $(NODE) --test --test-reporter=spec $$(find dist/test/integration dist/test/reliability -name '*.test.js' | sort)

bench: build
	@eval "$$(scripts/test-setup.sh)" && $(NODE) dist/bench/run.js

# The long reliability runs (fuzzing 10 000+ lines, 64×100 load, 1 000-connection churn, crash with 20 commands)
# and the standing abuse suite (abuse-*.chaos: hostile commands, clients and local users).
chaos: build
	@eval "$$(scripts/test-setup.sh)" && scripts/reap $(NODE) --test --test-reporter=spec dist/test/reliability/chaos.long.js $$(ls dist/test/reliability/abuse-*.chaos.js 2>/dev/null)

clean:
	rm -rf dist build native/build

-include mk/packaging.mk
