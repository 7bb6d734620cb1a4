# sync-to-s3 — the commands a user needs. `make run` shows the function at work against a local
# AWS; `make test` checks everything. Both install what they need themselves (Python venvs with
# moto, cfn-lint and the SAM CLI); only Rust and Python 3.11 must be on the machine.

CARGO ?= cargo
PYTHON ?= python3
OUT ?= out
EVENT ?= events/sqs-batch.json

VENV := .venv
DEPLOY_VENV := .venv-deploy
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check
export SAM_CLI_TELEMETRY := 0

.PHONY: help all build run test lint fmt venv deploy-venv template-lint unit aws-tests parquet-tests \
        check-conformance invoke watch local-aws deploy sam-build secrets bench fuzz soak clean cargo-lambda

help:
	@echo "make run     build, start a local AWS (moto), run the function on events/ through the Lambda"
	@echo "             Runtime API and show the objects it wrote (copies in $(OUT)/)"
	@echo "make test    fmt, clippy -D warnings, unit/property/handler/conformance tests, tests against"
	@echo "             moto (S3, STS, SSM, faults), the local AWS self-test, cfn-lint and sam validate,"
	@echo "             Parquet read back by pyarrow and DuckDB, Segment's client libraries"
	@echo "make build   release build for Lambda (arm64, or x86_64 if the arm64 target is missing)"
	@echo "make sam-build  sam build (cargo-lambda, arm64), then check the bootstrap: aarch64 ELF, size"
	@echo "make secrets WRITE_KEYS=k1,k2 [EXTERNAL_ID=id]   store them in the SSM SecureString"
	@echo "make deploy  sam build, then sam deploy (--guided the first time; samconfig.toml after)"
	@echo "make local-aws, then make watch / make invoke EVENT=events/x.json   cargo lambda's emulator on moto"
	@echo "make bench   benchmarks (see BENCHMARKS.md)"
	@echo "make fuzz    cargo-fuzz targets on stable, FUZZ_SECONDS each (default 60; see RELIABILITY.md)"
	@echo "make soak    SOAK_EVENTS (default 50000) events through the function with random S3 faults"

all: build

$(VENV)/.installed: scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r scripts/requirements.txt
	touch $@

venv: $(VENV)/.installed

$(DEPLOY_VENV)/.installed: scripts/requirements-deploy.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install $(PIP_FLAGS) -r scripts/requirements-deploy.txt
	touch $@

deploy-venv: $(DEPLOY_VENV)/.installed

run: venv
	$(CARGO) build --locked --bin sync-to-s3 --example local_lambda
	@OUT=$(OUT) scripts/run-local.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --locked --all-targets --all-features -- -D warnings
	$(CARGO) clippy --locked --lib --no-default-features -- -D warnings

fmt:
	$(CARGO) fmt --all

# sam validate needs a region name even offline: the user's, else us-east-1.
template-lint: venv deploy-venv
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$${AWS_REGION:-us-east-1}} $(DEPLOY_VENV)/bin/sam validate --lint --template template.yaml
	$(PY) tests/template/test_template.py

test: lint venv template-lint
	$(CARGO) test --locked --all-targets
	$(PY) scripts/local_aws/test_local_aws.py
	$(PY) scripts/local_apigw.py --self-test
	$(MAKE) --no-print-directory parquet-tests
	$(MAKE) --no-print-directory client-tests

# Parquet objects read back by pyarrow and DuckDB (both from PyPI, in the venv), issue 14.
parquet-tests: venv
	@$(CARGO) build --locked --quiet --bin sync-to-s3
	$(PY) tests/parquet/test_parquet.py --bin target/debug/sync-to-s3

check-conformance:
	$(CARGO) test --locked --test conformance -- --nocapture

# cargo-lambda (and the zig it cross-compiles with) live in the deploy venv.
CARGO_LAMBDA := $(DEPLOY_VENV)/bin/cargo-lambda
WITH_TOOLS := PATH="$(CURDIR)/$(DEPLOY_VENV)/bin:$$PATH"

cargo-lambda: deploy-venv
	@test -x $(CARGO_LAMBDA) || $(DEPLOY_VENV)/bin/pip install $(PIP_FLAGS) cargo-lambda==1.9.2

# Release build for Lambda with cargo-lambda.
build: cargo-lambda
	@if rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu; then \
	  $(WITH_TOOLS) $(CARGO) lambda build --release --arm64 --bin sync-to-s3; \
	else \
	  echo "The arm64 target cannot be added here: building for x86_64 instead."; \
	  echo "Set Architectures to x86_64 in template.yaml before deploying this build."; \
	  $(WITH_TOOLS) $(CARGO) lambda build --release --x86-64 --bin sync-to-s3; \
	fi

# sam build runs cargo lambda for the template's BuildMethod rust-cargolambda (a SAM beta
# feature, switched on in samconfig.toml); sam deploy then uploads .aws-sam/build, not the
# source tree. The check: an aarch64 ELF executable under the size budget.
BOOTSTRAP := .aws-sam/build/SyncFunction/bootstrap
BOOTSTRAP_BUDGET ?= 18000000

sam-build: cargo-lambda
	@rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(WITH_TOOLS) $(DEPLOY_VENV)/bin/sam build --beta-features
	$(PYTHON) scripts/check_bootstrap.py $(BOOTSTRAP) --arch aarch64 --max-bytes $(BOOTSTRAP_BUDGET)

# The first deploy asks (stack name, region, BucketName, ...) and saves the answers in
# samconfig.toml; later ones reuse them. Region and profile are the user's own (AWS_PROFILE,
# AWS_REGION or the profile's region): nothing here overrides them.
deploy: sam-build
	@if grep -q '^parameter_overrides' samconfig.toml 2>/dev/null; then \
	  $(DEPLOY_VENV)/bin/sam deploy; \
	else \
	  $(DEPLOY_VENV)/bin/sam deploy --guided; \
	fi

# Stores the write keys (and the External ID) in the SSM SecureString the function reads
# (SecretsParameterName), with your credentials: `make secrets WRITE_KEYS=k1,k2 EXTERNAL_ID=x`.
# Without WRITE_KEYS/EXTERNAL_ID it asks, without echoing.
SECRETS_PARAMETER ?= /sync-to-s3/secrets

secrets:
	$(CARGO) build --locked --quiet --bin sync-to-s3
	@SECRETS_PARAMETER="$(SECRETS_PARAMETER)" WRITE_KEYS="$(WRITE_KEYS)" EXTERNAL_ID="$(EXTERNAL_ID)" \
	  scripts/store_secrets.sh target/debug/sync-to-s3

# cargo lambda's emulator on 127.0.0.1:9000, rebuilding on change, with the environment in
# WATCH_ENV when that file exists: `make local-aws` writes one for a local moto; write your own
# for a real bucket (README, "Local emulator").
WATCH_ENV ?= out/watch.env

watch: cargo-lambda
	$(WITH_TOOLS) $(CARGO) lambda watch -A 127.0.0.1 -P 9000 $(if $(wildcard $(WATCH_ENV)),--env-file $(WATCH_ENV))

# A local AWS (moto) on 127.0.0.1:$(LOCAL_AWS_PORT) with the sample bucket and configuration,
# for make watch; Ctrl-C stops it.
LOCAL_AWS_PORT ?= 4566

local-aws: venv
	@LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) WATCH_ENV=$(WATCH_ENV) scripts/local_aws/for_watch.sh

# The first request to `make watch` compiles the function: this says so and waits for it
# rather than leaving the terminal silent for minutes.
invoke: cargo-lambda
	@echo "invoking through cargo lambda's emulator on 127.0.0.1:9000 (start it with make watch);"
	@echo "the first invocation compiles the function, which takes a few minutes: make watch shows the build"
	$(WITH_TOOLS) $(CARGO) lambda invoke sync-to-s3 --invoke-address 127.0.0.1 --invoke-port 9000 --data-file $(EVENT)

# Side-by-side figures with the Python baseline, written into BENCHMARKS.md, then criterion.
bench: venv
	$(CARGO) build --locked --release --bin sync-to-s3 --example bench_pipeline --example cold_start --example upload_latency
	$(PYTHON) scripts/bench.py
	$(PY) scripts/bench_backfill.py --rounds 5
	$(CARGO) bench --locked --bench pipeline -- --warm-up-time 1 --measurement-time 5

SOAK_EVENTS ?= 50000

soak: venv
	$(CARGO) build --locked --release --bin sync-to-s3 --example soak
	target/release/examples/soak target/release/sync-to-s3 $(SOAK_EVENTS)

# cargo-fuzz goes into .tools/ (not the user's ~/.cargo); `-s none` runs it on stable Rust.
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_SECONDS ?= 60

.tools/bin/cargo-fuzz:
	$(CARGO) install --locked --quiet cargo-fuzz --version $(CARGO_FUZZ_VERSION) --root .tools

fuzz: .tools/bin/cargo-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

clean:
	$(CARGO) clean
	rm -rf $(OUT) $(VENV) $(DEPLOY_VENV) .aws-sam .tools fuzz/target fuzz/corpus fuzz/artifacts

# Segment's real libraries (segment-analytics-python, analytics-node, analytics-next in Debian's
# Chromium) against the function behind a local API Gateway built from template.yaml, on moto
# (tests/clients/test_real_clients.py), after the stand-in's own checks (local_apigw.py
# --self-test). Installs its npm packages (npm ci) and Chromium (apt, only when /usr/bin/chromium
# is missing). Quiet on success; on failure it prints the whole report.
CLIENT_TESTS_OUT ?= $(OUT)/client-tests
CHROMIUM ?= /usr/bin/chromium

.PHONY: client-tests client-tests-deps

tests/clients/node_modules/.installed: tests/clients/package.json tests/clients/package-lock.json
	@npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

client-tests-deps: venv tests/clients/node_modules/.installed
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium (apt-get)"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

client-tests: client-tests-deps
	@$(CARGO) build --locked --quiet --bin sync-to-s3
	@mkdir -p $(CLIENT_TESTS_OUT)
	@$(PY) scripts/local_apigw.py --self-test >$(CLIENT_TESTS_OUT)-apigw.txt 2>&1 \
	  || { cat $(CLIENT_TESTS_OUT)-apigw.txt; exit 1; }
	@CHROMIUM=$(CHROMIUM) $(PY) tests/clients/test_real_clients.py --bin target/debug/sync-to-s3 \
	  --out $(CLIENT_TESTS_OUT) >$(CLIENT_TESTS_OUT).txt 2>&1 \
	  && tail -n 1 $(CLIENT_TESTS_OUT).txt \
	  || { cat $(CLIENT_TESTS_OUT).txt; exit 1; }
