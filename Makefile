# sync-to-s3 — the commands a user needs. `make run` shows the function at work; `make test`
# checks everything. Both set up what they need themselves.

CARGO ?= cargo
OUT ?= out

.PHONY: all build run test lint fmt check-conformance clean help

help:
	@echo "make run    build, then run the function on the sample events in events/ and show the objects"
	@echo "make test   formatting, clippy -D warnings, unit, property, handler and conformance tests"
	@echo "make build  debug build of the binary"
	@echo "make clean  remove build output and $(OUT)/"

all: build

build:
	$(CARGO) build --locked --bin sync-to-s3

run: build
	@OUT=$(OUT) scripts/run-dry.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

test: lint
	$(CARGO) test --locked --all-targets

check-conformance:
	$(CARGO) test --locked --test conformance -- --nocapture

clean:
	$(CARGO) clean
	rm -rf $(OUT)
