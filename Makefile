# Salla Analytics infra: one entry point for setup, checks and operations.
# `make test` works on a fresh machine: it creates .venv and installs the pinned dependencies.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -c1-12)
STACK ?= dev
FORMAT ?= dotenv
# actionlint lints the GitHub workflow in the tests. Its PyPI wheel-less package downloads the
# binary from GitHub at install time (impossible here), so it is built from the Go module proxy.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(BIN)/actionlint
PULUMI ?= pulumi
BOOTSTRAP_BACKEND ?= file://./.state

.PHONY: actionlint help venv lint typecheck unit test validate schema policy-venv bootstrap outputs admin-hash provisioner clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

venv: $(STAMP) ## create .venv with the pinned dependencies (no-op when up to date)

lint: venv ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## mypy (strict)
	$(BIN)/mypy .

$(ACTIONLINT): | $(STAMP)
	GOBIN="$(abspath $(BIN))" GOFLAGS=-mod=mod GOTOOLCHAIN=local go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

actionlint: $(ACTIONLINT) ## build the pinned actionlint into .venv/bin (needs Go)

unit: venv $(ACTIONLINT) ## pytest only
	$(BIN)/pytest

test: lint typecheck unit ## everything CI runs: ruff, mypy, pytest

validate: venv ## offline guardrail pre-flight: STACK=dev|prod (mocked providers, no CLI, no credentials)
	$(BIN)/python -m tools.validate --stack $(STACK)

schema: venv ## regenerate schema/pulumi-stack.schema.json from the settings models (a test fails when stale)
	$(BIN)/python -m tools.schema

policy/.venv/.installed: policy/requirements.txt constraints.txt
	@test -x policy/.venv/bin/python || $(PYTHON) -m venv policy/.venv
	policy/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r policy/requirements.txt -c constraints.txt
	@touch $@

policy-venv: policy/.venv/.installed ## the policy pack's own virtualenv (what `pulumi preview --policy-pack policy` uses)

bootstrap: ## once per AWS account: state bucket, per-stack KMS keys, CI IAM policies (bootstrap/; docs/state-backend.md)
	cd bootstrap && mkdir -p .state && \
	export PULUMI_BACKEND_URL='$(BOOTSTRAP_BACKEND)' PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-}" && \
	$(PULUMI) install && \
	{ $(PULUMI) stack select shared 2>/dev/null || $(PULUMI) stack init shared --secrets-provider passphrase; } && \
	$(PULUMI) up --stack shared && \
	$(PULUMI) stack output --stack shared

outputs: venv ## one consumer's env vars: STACK=prod CONSUMER=app [FORMAT=dotenv|json] (outputs/<stack>-<consumer>.env, 0600; needs the Pulumi CLI)
	$(BIN)/python -m tools.outputs --stack $(STACK) --format $(FORMAT) $(if $(CONSUMER),--consumer $(CONSUMER)) $(if $(OUT),--out $(OUT))

admin-hash: venv ## the admin password's hash for clickhouseAdminPasswordHash (prompts twice, prints only the hash; pipe with make -s)
	@$(BIN)/python -m tools.admin_hash --stack $(STACK)

provisioner: venv ## once per service, as the admin: create/converge the `provisioner` SQL user (STACK=..., HOST=..., ROTATE=1 adds a password)
	$(BIN)/python -m tools.provisioner --stack $(STACK) $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)) $(if $(ROTATE),--add-password)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) policy/.venv .mypy_cache .ruff_cache .pytest_cache
