# Salla Analytics infra: one entry point for setup, checks and operations.
# Each virtualenv is installed from its hash-pinned lock (`pip install --require-hashes`) and rebuilt
# from scratch when the lock changes, so it holds exactly the locked set:
#   .venv        the program's (Pulumi.yaml): runtime lock (`make runtime-venv`), + pre-flight (`make venv`)
#   .venv-test   test and lint tooling, only for `make test`/`unit`/`lint`/`typecheck`/`lock`
#   policy/.venv the policy pack's (`make policy-venv`)
# The locks are complete (`make lock`; tests/test_locks.py checks them), so installs use --no-deps:
# nothing outside a lock is ever fetched. The one package left out on purpose is debugpy, which
# pulumi declares for the CLI's debugger attach mode only (tests/test_locks.py: EXCLUDED).

SHELL := /bin/bash
# Bytecode caches make warm runs warm (pytest also caches its rewritten test modules there);
# an environment that disables them (PYTHONDONTWRITEBYTECODE) would recompile on every run.
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_VENV := .venv-test
TEST_BIN := $(TEST_VENV)/bin
# A virtualenv is rebuilt when its lock (or the installer's) is newer than its stamp; .venv has
# one stamp per kind, and building either kind removes the other's.
RUNTIME_STAMP := $(VENV)/.installed-runtime
PREFLIGHT_STAMP := $(VENV)/.installed-preflight
TEST_STAMP := $(TEST_VENV)/.installed
POLICY_STAMP := policy/.venv/.installed
# uv (pinned in requirements-dev.in) resolves for every platform from Python 3.11 on; UPGRADE=1 moves
# every package to its newest version, otherwise the versions already locked are kept. Each lock's
# header records the exact command (Dependabot re-runs it when it bumps a pin).
LOCK := $(TEST_BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	$(if $(UPGRADE),--upgrade)
PYTEST_WORKERS ?= auto
RUNS ?= 5
STACK ?= dev
FORMAT ?= dotenv
# actionlint lints the GitHub workflow in the tests. Its PyPI wheel-less package downloads the
# binary from GitHub at install time (impossible here), so it is built from the Go module proxy.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(TEST_BIN)/actionlint
PULUMI ?= pulumi
BOOTSTRAP_BACKEND ?= file://./.state

# $(call fresh_venv,<dir>,<lock>,<stamp>): a new virtualenv holding exactly <lock> (tools/venv.sh).
define fresh_venv
	PYTHON=$(PYTHON) tools/venv.sh $(1) $(2)
	@touch $(3)
endef

.PHONY: actionlint help venv runtime-venv test-venv lock lint typecheck unit test validate schema policy-venv \
	preview up bootstrap outputs admin-hash provisioner bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(RUNTIME_STAMP): requirements.txt requirements-pip.txt
	$(call fresh_venv,$(VENV),requirements.txt,$@)

$(PREFLIGHT_STAMP): requirements-preflight.txt requirements-pip.txt
	$(call fresh_venv,$(VENV),requirements-preflight.txt,$@)

$(TEST_STAMP): requirements-dev.txt requirements-pip.txt
	$(call fresh_venv,$(TEST_VENV),requirements-dev.txt,$@)

runtime-venv: $(RUNTIME_STAMP) ## .venv with the runtime lock only (what deploy jobs install; no-op when up to date)

venv: $(PREFLIGHT_STAMP) ## .venv with the runtime + the pre-flight's packages (`make validate`; no-op when up to date)

test-venv: $(TEST_STAMP) ## .venv-test: the test and lint tooling (`make test` creates it)

lock: $(TEST_STAMP) ## regenerate every lock from its .in file (UPGRADE=1: newest versions); needs PyPI
	$(LOCK) --no-emit-package debugpy requirements-dev.in -o requirements-dev.txt
	$(LOCK) --no-emit-package debugpy requirements.in -c requirements-dev.txt -o requirements.txt
	$(LOCK) --no-emit-package debugpy requirements-preflight.in -c requirements-dev.txt -o requirements-preflight.txt
	$(LOCK) --no-emit-package debugpy policy/requirements.in -c requirements-dev.txt -o policy/requirements.txt
	@# bootstrap/ is installed by `pulumi install` (pip, dependencies included): its lock keeps debugpy.
	$(LOCK) bootstrap/requirements.in -c requirements-dev.txt -o bootstrap/requirements.txt
	$(LOCK) requirements-pip.in -c requirements-dev.txt -o requirements-pip.txt

lint: $(TEST_STAMP) ## ruff lint + format check
	$(TEST_BIN)/ruff check .
	$(TEST_BIN)/ruff format --check .

typecheck: $(TEST_STAMP) ## mypy (strict)
	$(TEST_BIN)/mypy .

$(ACTIONLINT): | $(TEST_STAMP)
	GOBIN="$(abspath $(TEST_BIN))" GOFLAGS=-mod=mod GOTOOLCHAIN=local go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

actionlint: $(ACTIONLINT) ## build the pinned actionlint into .venv-test/bin (needs Go)

unit: $(TEST_STAMP) $(ACTIONLINT) ## pytest only, in parallel (PYTEST_WORKERS=auto|<n>|0)
	$(TEST_BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# mypy runs beside pytest: it takes one core while pytest's workers start up and finish. -O (GNU
# make 4+; macOS's make 3.81 has none and interleaves) keeps each tool's output in one piece,
# printed as it ends; `make unit` shows pytest's progress live.
OUTPUT_SYNC := $(if $(filter 3.%,$(MAKE_VERSION)),,-O)
test: lint ## everything CI runs: ruff, then mypy and pytest side by side
	@$(MAKE) --no-print-directory -j2 $(OUTPUT_SYNC) typecheck unit

validate: venv ## offline guardrail pre-flight: STACK=dev|prod (mocked providers, no CLI, no credentials)
	$(BIN)/python -m tools.validate --stack $(STACK)

schema: $(TEST_STAMP) ## regenerate schema/pulumi-stack.schema.json from the settings models (a test fails when stale)
	$(TEST_BIN)/python -m tools.schema

$(POLICY_STAMP): policy/requirements.txt requirements-pip.txt
	$(call fresh_venv,policy/.venv,policy/requirements.txt,$@)

policy-venv: $(POLICY_STAMP) ## the policy pack's own virtualenv: required before any `pulumi preview`/`up` with the pack

# The real engine, with the pack: `make preview STACK=prod` (the CLI hangs at "Loading policy
# packs" when policy/.venv is missing, so these build it first). Needs the CLI and credentials.
# A .venv made by `make venv` serves as well (the engine ignores pulumi-policy when it picks plugins).
PACK := --policy-pack policy --policy-pack-config policy/config/$(STACK).json
PROGRAM_VENV := $(if $(wildcard $(PREFLIGHT_STAMP)),$(PREFLIGHT_STAMP),$(RUNTIME_STAMP))
preview: $(PROGRAM_VENV) $(POLICY_STAMP) ## pulumi preview of STACK with the policy pack
	$(PULUMI) preview --stack $(STACK) $(PACK)

up: $(PROGRAM_VENV) $(POLICY_STAMP) ## pulumi up of STACK with the policy pack
	$(PULUMI) up --stack $(STACK) $(PACK)

# bootstrap/ runs with the bootstrap policy pack (policy/config/bootstrap.json) like its CI preview,
# and with its provider plugin pinned (.github/pulumi-plugins.lock, tools/pulumi_plugins.py):
# `pulumi install --no-plugins` resolves nothing, and the engine may download nothing.
# `pulumi up` shows its preview, with the pack's verdict, and asks before applying.
BOOTSTRAP_PACK := --policy-pack ../policy --policy-pack-config ../policy/config/bootstrap.json
bootstrap: $(POLICY_STAMP) ## once per AWS account: state bucket, per-stack KMS keys, CI IAM policies (bootstrap/; docs/state-backend.md)
	cd bootstrap && mkdir -p .state && \
	export PULUMI_BACKEND_URL='$(BOOTSTRAP_BACKEND)' PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-}" \
		PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true && \
	$(PULUMI) install --no-plugins && \
	(cd .. && $(PYTHON) -m tools.pulumi_plugins install --set bootstrap --venv bootstrap/.venv) && \
	{ $(PULUMI) stack select shared 2>/dev/null || $(PULUMI) stack init shared --secrets-provider passphrase; } && \
	$(PULUMI) up --stack shared $(BOOTSTRAP_PACK) && \
	$(PULUMI) stack output --stack shared

outputs: venv ## one consumer's env vars: STACK=prod CONSUMER=app [FORMAT=dotenv|json] (outputs/<stack>-<consumer>.env, 0600; needs the Pulumi CLI)
	$(BIN)/python -m ops.outputs --stack $(STACK) --format $(FORMAT) $(if $(CONSUMER),--consumer $(CONSUMER)) $(if $(OUT),--out $(OUT))

admin-hash: venv ## the admin password's hash for clickhouseAdminPasswordHash (prompts twice, prints only the hash; pipe with make -s)
	@$(BIN)/python -m ops.admin_hash --stack $(STACK)

provisioner: venv ## once per service, as the admin: create/converge the `provisioner` and `observer` SQL users (STACK= HOST= PORT=; ROTATE=provisioner|observer, LEGACY=1, BREAK_GLASS=1: docs/provisioning.md)
	$(BIN)/python -m ops.provisioner --stack $(STACK) $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT)) \
		$(if $(ROTATE),--rotate $(ROTATE)) $(if $(LEGACY),--legacy) $(if $(BREAK_GLASS),--break-glass)

bench: ## speed figures, medians of RUNS runs: WHAT="validate test quickstart" (default: validate test)
	$(PYTHON) -m tools.bench $(WHAT) --runs $(RUNS)

clean: ## remove the virtualenvs and caches
	rm -rf $(VENV) $(TEST_VENV) policy/.venv .mypy_cache .ruff_cache .pytest_cache
