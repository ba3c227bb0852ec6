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

# jsii prints an end-of-life banner for Node 20 on every call; CDKTF phones home unless told not to.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
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

.PHONY: help install wheel synth deploy diff check check-sarif check-plan test lint unit chaos demo ml-flow mlflow-ui serve review codeowners bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required" >&2; exit 2; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python dependencies into $(VENV) ..."
	@$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -m pip install --quiet -e '.[infra,dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

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

deploy: install wheel ## Deploy the account stack, then one environment: make deploy ENV=staging (needs credentials)
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|staging|prod" >&2; exit 2; }
	@if [ -f stacks/account.yaml ]; then \
	  echo "Account stack first (Terraform changes nothing there when nothing changed)"; \
	  MLOPS_ENVS=$(ENV) $(CDKTF) deploy account $(ENV) $(ARGS); \
	else MLOPS_ENVS=$(ENV) $(CDKTF) deploy $(ENV) $(ARGS); fi

diff: install wheel ## Plans of the account stack and one environment: make diff ENV=prod (needs credentials)
	@test -n "$(ENV)" || { echo "usage: make diff ENV=dev|staging|prod" >&2; exit 2; }
	@if [ -f stacks/account.yaml ]; then MLOPS_ENVS=$(ENV) $(CDKTF) diff account; fi
	MLOPS_ENVS=$(ENV) $(CDKTF) diff $(ENV)

check: synth ## Guardrails over every synthesized stack (exit 1 = findings, 2 = unusable input)
	@$(PY) -m infra.guardrails

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

chaos: install ## Every ML job SIGKILLed at every step boundary and at random, re-run; two of each at once
	@CHAOS=full $(VENV)/bin/pytest -q -p no:cacheprovider tests/ml_jobs/chaos

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
