"""Acceptance: two commits with known differences, reviewed end to end through git and two synths.

The head commit (1) grants data scientists MODIFY on the prod features schema, (2) loosens the dev
interactive policy's autotermination from 30 to 120 minutes, (3) adds a daily GPU training model,
(4) renames the staging artifacts volume (a destroy), (5) raises the guardrails' prod DBU cap to
100000, past its floor. The review runs once; every test reads its result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.review.conftest import commit_all, edit_text, git

pytestmark = pytest.mark.slow

NEW_MODEL = "risk_chargeback_gpu"
NEW_MODEL_YAML = f"""
  - name: {NEW_MODEL}
    description: Chargeback risk for disputed card payments (GPU training).
    data:
      table: chargeback_training
      label: is_chargeback
      id_column: transaction_id
      timestamp_column: event_ts
      numeric_features: [amount, merchant_risk, account_age_days]
      categorical_features: [merchant_category, channel]
    training:
      schedule: "0 0 4 * * ?"
      compute: gpu
      n_trials: 10
    validation:
      min_roc_auc: 0.8
      segment_min_roc_auc: null
      max_demographic_parity_diff: null
    serving:
      enabled: false
"""
PROD_GRANT_YAML = """
grants:
  - principal: data_scientists
    securable: schema:features
    privileges: [SELECT, MODIFY]
"""
REVIEW_BUDGET_S = 30.0


@dataclass
class Outcome:
    repo: Path
    base: str
    proc: subprocess.CompletedProcess[str]
    seconds: float
    load: float
    md: str
    data: dict[str, Any]

    def env(self, name: str) -> dict[str, Any]:
        return self.data["envs"][name]


def apply_known_changes(repo: Path) -> None:
    stacks = repo / "stacks"
    (stacks / "prod.yaml").write_text((stacks / "prod.yaml").read_text() + PROD_GRANT_YAML)
    edit_text(stacks / "dev.yaml", "autotermination_minutes: 30", "autotermination_minutes: 120")
    (stacks / "models.yaml").write_text(
        (stacks / "models.yaml").read_text().rstrip("\n") + "\n" + NEW_MODEL_YAML
    )
    # Renaming the artifacts volume destroys the old one (volumes are protected types).
    (stacks / "staging.yaml").write_text(
        (stacks / "staging.yaml").read_text() + "artifacts:\n  volume: wheels\n"
    )
    edit_text(
        repo / "policies" / "guardrails" / "params.yaml",
        "  prod:\n    max_dbus_per_hour: 100\n",
        "  prod:\n    max_dbus_per_hour: 100000\n",
    )


def run_review(repo: Path, base: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.review",
            "--base",
            base,
            "--repo",
            str(repo),
            "--out-md",
            str(out / "review.md"),
            "--out-json",
            str(out / "review.json"),
            *extra,
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def outcome(project_repo_factory, tmp_path_factory) -> Outcome:
    repo = project_repo_factory("review-acceptance")
    base = git(repo, "rev-parse", "HEAD")
    apply_known_changes(repo)
    commit_all(repo, "known changes")
    out = tmp_path_factory.mktemp("review-out")
    started = time.monotonic()
    proc = run_review(repo, base, out)
    seconds = time.monotonic() - started
    load = os.getloadavg()[0]
    assert proc.returncode in (0, 1), proc.stderr
    md = (out / "review.md").read_text()
    return Outcome(repo, base, proc, seconds, load, md, json.loads((out / "review.json").read_text()))


def test_exit_code_follows_the_verdict(outcome: Outcome) -> None:
    assert outcome.proc.returncode == (1 if outcome.data["verdict"] == "block" else 0)


def test_prod_grant_shows_in_the_access_table_as_an_escalation(outcome: Outcome) -> None:
    gained = [
        a
        for a in outcome.env("prod")["access"]
        if a["change"] == "gained" and a["principal"] == "data-scientists"
    ]
    modify = [
        a for a in gained if a["securable"] == "schema mlops_prod.features" and a["privilege"] == "MODIFY"
    ]
    assert modify and modify[0]["escalation"] == "write on prod"
    assert (
        "| data-scientists (group) | schema mlops_prod.features | `MODIFY` | **write on prod** |"
        in outcome.md
    )


def test_prod_verdict_is_at_least_warn_with_security_approval(outcome: Outcome) -> None:
    prod = outcome.env("prod")
    assert prod["verdict"] in ("warn", "block")
    assert any("escalation" in r for r in prod["reasons"])
    security = [a for a in outcome.data["approvals"] if a["team"] == "@acme/security" and "prod" in a["envs"]]
    assert security


def test_autotermination_loosening_is_a_rule_diff(outcome: Outcome) -> None:
    (policy,) = [p for p in outcome.env("dev")["policies"] if p["name"] == "mlops-dev-interactive"]
    (rule,) = [c for c in policy["changes"] if c["attribute"] == "autotermination_minutes"]
    assert (rule["before"], rule["after"], rule["direction"]) == (
        "fixed 30 (hidden)",
        "fixed 120 (hidden)",
        "loosened",
    )
    assert policy["loosened"]
    assert "`autotermination_minutes` | fixed 30 (hidden) | fixed 120 (hidden) | 🔺 loosened" in outcome.md


def test_dev_autotermination_above_the_guardrail_is_an_introduced_finding(outcome: Outcome) -> None:
    params = yaml.safe_load((outcome.repo / "policies/guardrails/params.yaml").read_text())
    limit = (
        params["envs"]
        .get("dev", {})
        .get("max_autotermination_minutes", params["defaults"]["max_autotermination_minutes"])
        if params.get("envs")
        else params["defaults"]["max_autotermination_minutes"]
    )
    introduced = [f for f in outcome.env("dev")["findings"] if f["change"] == "introduced"]
    if limit < 120:
        assert any("autotermination" in f["message"] for f in introduced), introduced


def test_removed_volume_gets_the_destructive_banner(outcome: Outcome) -> None:
    staging = outcome.env("staging")
    deleted = [
        c
        for c in staging["changes"]
        if c["type"] == "databricks_volume" and c["action"] in ("delete", "replace")
    ]
    assert [c["name"] for c in deleted] == ["mlops_staging.models.artifacts"]
    assert deleted[0]["address"] in staging["destructive"]
    assert "> [!CAUTION]" in outcome.md
    assert f"volume `mlops_staging.models.artifacts` — `{deleted[0]['address']}`" in outcome.md
    assert staging["verdict"] in ("warn", "block")


def test_gpu_job_adds_its_worst_case_cost_in_prod(outcome: Outcome) -> None:
    pricing = yaml.safe_load((outcome.repo / "policies/pricing.yaml").read_text())
    prod_yaml = yaml.safe_load((outcome.repo / "stacks/prod.yaml").read_text())
    cap = prod_yaml["compute"]["gpu_training"]["max_dbus_per_hour"]
    hours = prod_yaml["jobs"]["timeout_seconds"] / 3600
    runs = pricing["assumptions"]["days_per_month"]  # daily schedule "0 0 4 * * ?"
    expected = cap * pricing["usd_per_dbu"]["jobs_compute"] * hours * runs
    cost = outcome.env("prod")["cost"]
    (job,) = [
        j for j in cost["jobs"] if j["before"] is None and NEW_MODEL in j["name"] and "train" in j["name"]
    ]
    assert job["after"]["usd_per_month"] == pytest.approx(expected)
    # Only the new model's jobs (training, plus its monitor) change the environment's worst case.
    changed = [j for j in cost["jobs"] if j["before"] != j["after"]]
    assert all(j["before"] is None and NEW_MODEL in j["name"] for j in changed)
    assert cost["delta_usd"] == pytest.approx(sum(j["after"]["usd_per_month"] for j in changed), abs=0.01)
    created = [
        c for c in outcome.env("prod")["changes"] if c["action"] == "create" and NEW_MODEL in c["name"]
    ]
    assert {c["type"] for c in created} >= {"databricks_job", "databricks_registered_model"}


def test_cost_increase_above_threshold_warns(outcome: Outcome) -> None:
    ownership = yaml.safe_load((outcome.repo / "policies/ownership.yaml").read_text())
    prod = outcome.env("prod")
    if prod["cost"]["delta_usd"] > ownership["thresholds"]["cost_increase_usd_month"]:
        assert "cost_increase" in prod["kinds"]
        assert any(a["team"] == "@acme/finops" for a in outcome.data["approvals"])


def test_markdown_fits_a_github_comment_and_names_the_base(outcome: Outcome) -> None:
    assert len(outcome.md) <= 65_536
    assert outcome.base[:10] in outcome.md


def test_review_of_three_environments_runs_within_budget(outcome: Outcome) -> None:
    # 30 s on this 2-core machine when it is ours; other processes competing for the cores (the
    # load average above the core count) stretch wall-clock time by the same factor.
    budget = REVIEW_BUDGET_S * max(1.0, outcome.load / (os.cpu_count() or 1))
    assert outcome.seconds < budget, f"review took {outcome.seconds:.1f} s (budget {budget:.0f} s)"


def test_worktree_is_removed_and_tree_untouched(outcome: Outcome) -> None:
    assert git(outcome.repo, "worktree", "list").count("\n") == 0  # only the main worktree
    assert git(outcome.repo, "status", "--porcelain") == ""


def test_guardrail_cap_past_its_floor_blocks_prod_naming_the_security_team(outcome: Outcome) -> None:
    prod = outcome.env("prod")
    assert prod["verdict"] == "block"
    assert any(
        "guardrail policy loosened below its floors" in r and "@acme/security" in r for r in prod["reasons"]
    )
    (change,) = [c for c in prod["guardrail_policy"] if c["key"] == "envs.prod.max_dbus_per_hour"]
    assert (change["before"], change["after"], change["direction"], change["below_floor"]) == (
        "100.0",
        "100000.0",
        "loosened",
        True,
    )
    assert "guardrail_loosened" in prod["kinds"]
    assert any(
        a["team"] == "@acme/security" and any("guardrails' limits" in r for r in a["reasons"])
        for a in outcome.data["approvals"]
    )
    assert "Guardrail policy: 1 changed, 1 loosened" in outcome.md
    assert "⛔ below floor, loosened" in outcome.md
    # Only prod's gate moved: the other environments show no guardrail policy change.
    assert outcome.env("dev")["guardrail_policy"] == []
