# trl — build, run, test, bench. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
export npm_config_nodedir := /usr
NODE ?= node
RUN_DIR ?= /tmp/trl-$(shell id -u)
SOCKET ?= $(RUN_DIR)/trl.sock

.PHONY: all deps build run test test-unit test-integration bench clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json

# The daemon in the foreground on a socket in a private directory. As root it
# needs TRL_ALLOW_ROOT, since commands would then run as root.
run: build
	@mkdir -p -m 700 $(RUN_DIR)
	@echo "trld on $(SOCKET) — try: TRL_SOCKET_PATH=$(SOCKET) bin/trl exec -- uname -a" >&2
	TRL_SOCKET_PATH=$(SOCKET) $(if $(filter 0,$(shell id -u)),TRL_ALLOW_ROOT=1) $(NODE) bin/trld

# As root, the daemon under test runs as an unprivileged user that test-setup creates.
test: build
	@eval "$$(scripts/test-setup.sh)" && $(NODE) --test --test-reporter=spec $$(find dist/test/unit dist/test/integration dist/test/reliability -name '*.test.js' 2>/dev/null | sort)

bench: build
	@eval "$$(scripts/test-setup.sh)" && $(NODE) dist/bench/run.js

clean:
	rm -rf dist build

-include mk/packaging.mk
