# Quire: `make run` starts the daemon on the embedded default, `make test` runs every test.
# Both install what they need first (scripts/bootstrap is idempotent).

CARGO ?= cargo

.PHONY: run test bench bootstrap build fmt fuzz deb

bootstrap:
	scripts/bootstrap

build: bootstrap
	$(CARGO) build --release --bin quire

run: build
	./target/release/quire daemon

# Formatting and lints first: a warning fails the run, as a test would.
test: bootstrap
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --no-fail-fast

bench: build
	scripts/bench/run

# Every fuzz target for FUZZ_SECONDS each (FUZZING.md); FUZZ_TARGETS="tiff jbig2" picks some.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

fuzz: bootstrap
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz $(FUZZ_TARGETS)

fmt:
	$(CARGO) fmt --all

# The Debian package (README, "Install on a server"): the release build, /etc/quire/quire.toml
# made from config/quire.toml, then cargo-deb without building again; it prints the .deb's path.
# `make test` does not run this (no release build in every test run): tests/package.rs packages
# the debug binary the tests build, with the same metadata and files, and checks that .deb with
# lintian, systemd-analyze and an install into a throwaway root.
deb: build
	packaging/conffile
	.tools/bin/cargo-deb --no-build
