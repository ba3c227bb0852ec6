"""Destroying protected resources: what prevent_destroy does and does not do, experiments as protected,
acknowledged decommissions, and approvals merged per team."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.review import Inputs, ReviewError, diff, load_params, render_markdown
from infra.review.decommissions import Decommission, load_decommissions
from infra.review.diff import REFUSED, UNGUARDED
from tests.review.docs import base_doc, resources
from tests.review.plans import plan

TODAY = date(2026, 3, 2)
KEEP = {"prevent_destroy": True}


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


def with_model(doc: dict[str, Any], env: str = "prod") -> dict[str, Any]:
    """A model as the stacks build it: registered model and experiment under one construct, protected."""
    path = f"{env}/model-churn"
    resources(doc)["databricks_registered_model"] = {
        "churn": {
            "//": {"metadata": {"path": f"{path}/registered-model"}},
            "catalog_name": "${databricks_catalog.cat.name}",
            "schema_name": "models",
            "name": "churn",
            "lifecycle": KEEP,
        }
    }
    resources(doc)["databricks_mlflow_experiment"] = {
        "churn_exp": {"//": {"metadata": {"path": f"{path}/experiment"}}, "name": "/mlops/Prod/churn"}
    }
    resources(doc)["databricks_schema"]["feat"]["lifecycle"] = KEEP
    return doc


def without_model(doc: dict[str, Any]) -> dict[str, Any]:
    del resources(doc)["databricks_registered_model"]
    del resources(doc)["databricks_mlflow_experiment"]
    return doc


def review(params, base, head, env="prod", **kwargs):
    if "head_policies" in kwargs:  # the same gate on both sides: only the change's own findings count
        kwargs["base_policies"] = kwargs["head_policies"]
    return diff({env: base}, {env: head}, Inputs(params, today=TODAY, **kwargs))


def ack(**overrides) -> Decommission:
    fields = {
        "env": "prod",
        "resource": "prod/model-churn",
        "reason": "churn v1 is retired; its successor serves all traffic",
        "owner": "@acme/mlops-leads",
        "expires": TODAY + timedelta(days=14),
        "index": 0,
    }
    return Decommission(**{**fields, **overrides})


def test_a_removed_block_is_destroyed_despite_prevent_destroy_and_the_review_says_so(params) -> None:
    rv = review(params, with_model(base_doc()), without_model(with_model(base_doc())))
    (model,) = [c for c in rv.envs[0].destructive if c.type == "databricks_registered_model"]
    assert model.action == "delete"
    assert model.protection.startswith("prevent_destroy does not protect it: the resource block is removed")
    assert "`removed` block" in model.protection
    assert model.protection in render_markdown(rv)


def test_a_forced_replacement_under_prevent_destroy_is_a_refused_plan(params) -> None:
    base = with_model(base_doc())
    head = with_model(base_doc())
    resources(head)["databricks_schema"]["feat"]["name"] = "features_v2"
    (schema,) = [c for c in review(params, base, head).envs[0].destructive if c.type == "databricks_schema"]
    assert (schema.action, schema.protection) == ("replace", REFUSED)


def test_a_renamed_construct_under_prevent_destroy_points_at_a_moved_block(params) -> None:
    base = with_model(base_doc())
    head = with_model(base_doc())
    resources(head)["databricks_schema"] = {"feat_renamed": resources(head)["databricks_schema"]["feat"]}
    (schema,) = [c for c in review(params, base, head).envs[0].destructive if c.type == "databricks_schema"]
    assert schema.old_address == "databricks_schema.feat"
    assert "prevent_destroy does not protect it" in schema.protection and "`moved` block" in schema.protection


def test_an_unguarded_destroy_says_nothing_stops_it(params) -> None:
    head = base_doc()
    del resources(head)["databricks_schema"]["feat"]
    (schema,) = review(params, base_doc(), head, "dev").envs[0].destructive
    assert schema.protection == UNGUARDED


def test_destroying_an_experiment_in_prod_blocks(params) -> None:
    base = with_model(base_doc())
    head = with_model(base_doc())
    del resources(head)["databricks_mlflow_experiment"]
    env = review(params, base, head).envs[0]
    assert [c.type for c in env.destructive] == ["databricks_mlflow_experiment"]
    assert env.verdict == "block"


def test_a_plan_takes_lifecycle_and_construct_paths_from_the_synthesized_stack(params) -> None:
    base, head = with_model(base_doc()), without_model(with_model(base_doc()))
    plans = {"prod": ("plan.json", plan(base, head))}
    env = review(params, base, head, plans=plans).envs[0]
    assert env.source == "plan plan.json"
    (model,) = [c for c in env.destructive if c.type == "databricks_registered_model"]
    assert model.protection.startswith("prevent_destroy does not protect it")


def test_an_acknowledged_decommission_warns_and_asks_its_approvals(params, policies) -> None:
    base, head = with_model(base_doc()), without_model(with_model(base_doc()))
    acked = dataclasses.replace(params, decommissions=(ack(),))
    rv = review(acked, base, head, head_policies=policies)
    (env,) = rv.envs
    assert env.verdict == "warn"
    assert sorted(env.acknowledged) == [
        "databricks_mlflow_experiment.churn_exp",
        "databricks_registered_model.churn",
    ]
    (reason,) = [r for r in env.reasons if "acknowledged" in r]
    assert "policies/decommissions.yaml: decommissions[0]" in reason and "@acme/mlops-leads" in reason
    (leads,) = [a for a in rv.approvals if a.team == "@acme/mlops-leads"]
    assert any("destroyed" in r for r in leads.reasons)  # the destructive rule still applies
    assert any("acknowledged destroy" in r for r in leads.reasons)  # ... and the owner signs for it
    assert "prod" in leads.envs
    banner = "acknowledged in policies/decommissions.yaml: decommissions[0], until 2026-03-16"
    assert banner in render_markdown(rv)


def test_an_acknowledgement_covers_only_what_it_names(params, policies) -> None:
    base, head = with_model(base_doc()), without_model(with_model(base_doc()))
    del resources(head)["databricks_schema"]["feat"]
    acked = dataclasses.replace(params, decommissions=(ack(),))
    env = review(acked, base, head, head_policies=policies).envs[0]
    assert [c.type for c in env.unacknowledged] == ["databricks_schema"]
    assert env.verdict == "block"


def test_an_acknowledgement_by_address_in_another_environment_covers_nothing(params, policies) -> None:
    base, head = with_model(base_doc()), without_model(with_model(base_doc()))
    other = ack(env="staging", resource="databricks_registered_model.churn")
    rv = diff(
        {"prod": base, "staging": base},
        {"prod": head, "staging": base},
        Inputs(dataclasses.replace(params, decommissions=(other,)), head_policies=policies, today=TODAY),
    )
    assert rv.envs[1].env == "prod" and rv.envs[1].verdict == "block"
    assert any("covers no destroy" in n for n in rv.notes)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (ack(expires=TODAY - timedelta(days=1)), r"decommissions\[0\]\.expires: the .* expired"),
        (ack(expires=TODAY + timedelta(days=400)), r"decommissions\[0\]\.expires: more than \d+ days ahead"),
        (ack(env="qa"), r"decommissions\[0\]\.env: unknown environment; got 'qa'"),
    ],
    ids=["expired", "too far ahead", "unknown env"],
)
def test_fails_on_an_unusable_acknowledgement(params, policies, entry, message) -> None:
    base, head = with_model(base_doc()), without_model(with_model(base_doc()))
    with pytest.raises(ReviewError, match=message):
        review(dataclasses.replace(params, decommissions=(entry,)), base, head, head_policies=policies)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("owner: '@acme/nobody'", r"decommissions\[0\]\.owner: not a team; got '@acme/nobody'"),
        ("resource: prod", r"neither a Terraform address nor a construct path"),
        ("resource: prod/", r"a construct path below the environment's stack"),
        ("resource: staging/model-churn", r"a construct path below the environment's stack"),
        ("reason: short", r"decommissions\[0\]\.reason"),
    ],
)
def test_fails_on_a_malformed_decommissions_file(tmp_path: Path, repo_root: Path, params, line, message):
    shutil.copytree(repo_root / "policies", tmp_path / "policies")
    entry = {
        "env": "env: prod",
        "resource": "resource: prod/model-churn",
        "reason": "reason: churn v1 is retired for good",
        "owner": "owner: '@acme/mlops-leads'",
        "expires": "expires: 2026-03-10",
    }
    entry[line.split(":")[0]] = line
    text = "decommissions:\n  - " + "\n    ".join(entry.values()) + "\n"
    (tmp_path / "policies" / "decommissions.yaml").write_text(text)
    with pytest.raises(ReviewError, match=message):
        load_decommissions(tmp_path / "policies", params.ownership)


def test_the_shipped_decommissions_file_loads_and_acknowledges_nothing(params) -> None:
    assert params.decommissions == ()


def test_approvals_are_one_entry_per_team_with_every_reason(params) -> None:
    head = base_doc()
    resources(head)["databricks_grants"]["g"]["grant"][0]["privileges"] = ["SELECT", "MODIFY"]
    rv = review(params, base_doc(), head, changed_files=("policies/rbac/roles.yaml",))
    teams = [a.team for a in rv.approvals]
    assert len(teams) == len(set(teams))
    (security,) = [a for a in rv.approvals if a.team == "@acme/security"]
    assert len(security.reasons) >= 3  # prod access, escalation, CODEOWNERS of policies/rbac/
    assert "CODEOWNERS of changed files: policies/rbac/roles.yaml" in security.reasons
    md = render_markdown(rv)
    assert md.count("**@acme/security**") == 1
