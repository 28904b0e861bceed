# The two commands the README promises, and a few helpers.
.PHONY: test build venv clean stack rpm check-rpms bench

## Run every test (Rust unit + end-to-end, Python plugin and test-hub tests).
test:
	./scripts/test

## Build all binaries (debug).
build:
	cargo build --workspace --bins

## Python venv with koji, jsonschema, pytest for the test hub and plugins.
venv:
	./scripts/setup-venv

clean:
	cargo clean
	rm -rf .venv

## Start the local stack on loopback and submit an image request (Ctrl-C stops it).
stack:
	./scripts/stack

## Build the RPMs into target/rpm from a release build (packaging/koji-osbuild.spec).
rpm:
	./packaging/build-rpms

## Build the RPMs and check their file lists, config files and systemd unit.
check-rpms:
	./packaging/check-rpms

## Scale benchmark: hub + composer-sim + builder, N tasks (make bench TASKS=1000); see docs/benchmarks.md.
TASKS ?= 100
bench:
	./scripts/setup-venv
	cargo build --release -p koji-osbuild-builder -p composer-sim --bins
	cargo bench -p e2e --bench scale -- --tasks $(TASKS) --compose-seconds 60
