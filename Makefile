# kaas: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export SCARF_ANALYTICS := false
# Every target runs on the project's own Node.js (pinned in scripts/node-env.sh, installed into
# .tools/node by `make deps`), whatever Node the machine came with.
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)

.PHONY: help deps check-deps check-docs build run test test-vm lint fmt fmt-check services services-down guest-image bundles run-vms vmenv-up vmenv-down vm-smoke test-bundles bench bench-soak bench-vms clean

help:
	@echo "make run     install what is missing, start PostgreSQL, Redis, the API and a worker"
	@echo "make test    install what is missing and run every test (lint, unit, medium, e2e, real VMs)"
	@echo "other:       lint check-docs fmt build services services-down guest-image bundles run-vms bench bench-soak bench-vms clean"

deps:
	@scripts/deps.sh

build: deps
	@npx tsc -p tsconfig.build.json

services: deps
	@scripts/services.sh up >/dev/null

services-down:
	@scripts/services.sh down

run: build
	@scripts/run.sh

lint: deps
	@npx eslint . --max-warnings 0
	@npx tsc -p tsconfig.bench.json --noEmit # the benchmarks compile against today's code

fmt: deps
	@npx prettier --write --log-level warn .

fmt-check: deps
	@npx prettier --check --log-level warn .

test: check-deps build fmt-check lint check-docs
	@scripts/test.sh

# What is checked without running the platform: the committed OpenAPI document against Redocly's
# recommended rules, the monitoring rules and dashboard (promtool), and the systemd units
# (systemd-analyze verify).
check-docs: deps
	@scripts/check-openapi.sh
	@scripts/check-monitoring.sh
	@scripts/check-units.sh

# Fails when something the code, tests or scripts spawn is installed by no install step of the repo
# (CI machines keep packages installed by hand; a fresh machine does not have them).
check-deps: deps
	@node scripts/check-deps.mjs

guest-image: deps
	@scripts/guest/build-guest-image.sh

bundles: deps
	@scripts/bundles.sh

test-vm: build
	@scripts/test-vm.sh

run-vms: build guest-image bundles
	@scripts/run-vms.sh

# The etcd bundle on three real guests (about 2-3 minutes; the platform-level real-VM suite in
# `make test` covers the bundle through the product, this one covers the bundle's own corners).
test-bundles: build guest-image bundles
	@bash test/bundle/etcd-bundle.test.sh
	@bash test/bundle/k3s-recipe.test.sh
	@bash test/bundle/etcd-status.test.sh
	@bash test/bundle/etcd-restore.test.sh

vmenv-up:
	@scripts/vmenv/vmenv.sh up

vmenv-down:
	@scripts/vmenv/vmenv.sh down

vm-smoke: guest-image
	@scripts/vmenv/smoke.sh 5

bench: build
	@scripts/bench.sh

# Not in `make bench`: KAAS_SOAK_MINUTES (30) of mixed tenant traffic with a worker killed every
# KAAS_SOAK_KILL_MINUTES (5); fails on any error other than a 429 or on RSS growth of 10% or more of
# the API or a worker. Writes bench/results/soak.json.
bench-soak: build
	@KAAS_BENCHES=soak scripts/bench.sh

# Real guests (software emulation, inside the real-VM namespace): POST → Running and recovery of an
# etcd 1 + 1 cluster, median of KAAS_BENCH_RUNS (3); about 5 minutes. Writes bench/results/real-vm.json.
bench-vms: build guest-image bundles
	@scripts/test-vm.sh --testMatch '<rootDir>/bench/real-vm.vm-bench.ts'

clean:
	rm -rf dist native/libvirt/build
