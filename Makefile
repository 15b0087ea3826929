# Quire: `make run` starts the daemon on the embedded default, `make test` runs every test.
# Both install what they need first (scripts/bootstrap is idempotent).

CARGO ?= cargo

.PHONY: run test bench bootstrap build fmt

bootstrap:
	scripts/bootstrap

build: bootstrap
	$(CARGO) build --release --bin quire

run: build
	./target/release/quire daemon

test: bootstrap
	$(CARGO) test --workspace --no-fail-fast

bench: build
	scripts/bench/run

fmt:
	$(CARGO) fmt --all
