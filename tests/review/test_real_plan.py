"""The review of a plan in real ``terraform show -json`` shape reads like the review of the stack it plans.

The plans come from the shipped stacks, synthesized once per run, through ``tests/review/plans.py``
(resolved ids, nested blocks as lists, data sources only in ``prior_state``, unknown values for what
the plan creates). What this proves: cost, access, principal names and kinds, and the guardrails are
the same whether the review reads the synthesized stack or a plan of it, and a job created with its
policy in the same plan is priced. What it does not prove: that a given Terraform version prints
exactly these bytes (no Terraform runs here; the shape follows its documentation and a real plan).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.guardrails import evaluate, load_policies
from infra.review import Inputs, diff, load_params
from infra.review.access import accesses
from infra.review.cost import costs
from infra.review.resources import side_from_doc, sides_from_plan
from infra.tfdoc import resources_from_doc
from tests.review.plans import plan

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ENVS = ("dev", "staging", "prod", "account")


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


@pytest.fixture(scope="module")
def stacks(synth_dir: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: json.loads(p.read_text()) for p in synth_dir.glob("stacks/*/cdk.tf.json")}


def planned(doc: dict[str, Any], env: str, before: dict[str, Any] | None = None):
    """(before side, after side) of the plan of ``doc`` over the state ``before`` left (default: itself)."""
    return sides_from_plan(plan(doc if before is None else before, doc), env, f"{env}-plan.json")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_cost_from_a_plan_equals_the_cost_of_the_stack(stacks, params, env: str) -> None:
    _, after = planned(stacks[env], env)
    from_stack = costs(side_from_doc(stacks[env], env), params.pricing)
    from_plan = costs(after, params.pricing)
    assert from_plan == from_stack
    _, jobs = from_plan
    assert jobs and all(j.usd_per_month is not None for j in jobs), [j.note for j in jobs]


def test_prod_worst_case_from_a_plan_is_not_zero(stacks, params) -> None:
    doc = stacks["prod"]
    review = diff({"prod": doc}, {"prod": doc}, Inputs(params, plans={"prod": ("plan.json", plan(doc, doc))}))
    (prod,) = review.envs
    assert prod.cost.monthly_after > 1000 and prod.cost.delta == 0
    assert [c.action for c in prod.changes] == []  # a no-op plan changes nothing


def rows(a) -> tuple[str, str, str, str]:
    return (a.principal, a.principal_kind, a.securable, a.privilege)


@pytest.mark.parametrize("env", ENVS)
def test_access_from_a_plan_names_the_principals_the_stack_names(stacks, env: str) -> None:
    _, after = planned(stacks[env], env)
    from_stack = {rows(a) for a in accesses(side_from_doc(stacks[env], env))}
    from_plan = {rows(a) for a in accesses(after)}
    assert from_plan == from_stack
    for principal, kind, securable, _ in from_plan:
        assert "${" not in principal + securable
        if kind != "service principal":
            assert not UUID.search(principal), principal  # an application id is a service principal


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_service_principals_are_never_labelled_groups(stacks, env: str) -> None:
    _, after = planned(stacks[env], env)
    sps = [r for r in after.lookups.values() if r.type == "databricks_service_principal"]
    robots = {str(r.values["display_name"]) for r in sps}
    rows = [(a.principal, a.principal_kind) for a in accesses(after) if a.principal in robots]
    assert rows and {kind for _, kind in rows} == {"service principal"}


def test_entitlements_of_an_unknown_service_principal_id_say_service_principal(stacks) -> None:
    doc = copy.deepcopy(stacks["dev"])
    extra = {"service_principal_id": "1234567", "workspace_access": True}
    doc["resource"]["databricks_entitlements"]["extra"] = extra
    _, after = planned(doc, "dev")
    (row,) = [a for a in accesses(after) if a.source == "databricks_entitlements.extra"]
    assert (row.principal, row.principal_kind) == ("1234567", "service principal")


def test_a_job_created_with_its_policy_in_the_same_plan_is_priced(stacks, params) -> None:
    base = stacks["prod"]
    head = copy.deepcopy(base)
    policies, jobs = head["resource"]["databricks_cluster_policy"], head["resource"]["databricks_job"]
    job_name = next(n for n, j in jobs.items() if "train" in n and j.get("schedule"))
    ref = jobs[job_name]["job_cluster"][0]["new_cluster"]["policy_id"]  # ${databricks_cluster_policy.x.id}
    policy_name = ref.split(".")[1]
    policies["new_policy"] = copy.deepcopy(policies[policy_name]) | {"name": "new training policy"}
    job = copy.deepcopy(jobs[job_name]) | {"name": "new scheduled training"}
    job["job_cluster"][0]["new_cluster"]["policy_id"] = "${databricks_cluster_policy.new_policy.id}"
    jobs["new_train"] = job
    doc = plan(base, head)
    (created,) = [c for c in doc["resource_changes"] if c["address"] == "databricks_job.new_train"]
    assert "policy_id" not in created["change"]["after"]["job_cluster"][0]["new_cluster"][0]  # unknown
    review = diff({"prod": base}, {"prod": head}, Inputs(params, plans={"prod": ("plan.json", doc)}))
    (prod,) = review.envs
    (line,) = [j for j in prod.cost.jobs_after if j.address == "databricks_job.new_train"]
    (same,) = [j for j in prod.cost.jobs_after if j.address == f"databricks_job.{job_name}"]
    assert line.usd_per_month == same.usd_per_month > 0
    assert line.policies == ("databricks_cluster_policy.new_policy",)
    assert prod.cost.delta == pytest.approx(same.usd_per_month)


@pytest.mark.parametrize("env", ENVS)
def test_the_guardrails_judge_a_plan_as_they_judge_its_stack(stacks, repo_root: Path, env: str) -> None:
    policies = load_policies(repo_root / "policies")
    stack = evaluate(resources_from_doc(stacks[env], env), policies).findings
    from_plan = evaluate(resources_from_doc(plan(stacks[env], stacks[env]), env), policies).findings
    assert [(f.rule.id, f.address) for f in from_plan] == [(f.rule.id, f.address) for f in stack]


def test_data_sources_read_while_planning_come_from_prior_state(stacks) -> None:
    doc = plan(stacks["prod"], stacks["prod"])
    assert not [r for r in doc["planned_values"]["root_module"]["resources"] if r["mode"] == "data"]
    data = [r for r in resources_from_doc(doc, "prod") if r.mode == "data"]
    assert {r.type for r in data} == {"databricks_group", "databricks_service_principal"}
    sps = [r for r in data if r.type == "databricks_service_principal"]
    assert sps and all(UUID.fullmatch(r.values["application_id"]) for r in sps)


def test_the_review_of_a_plan_shows_no_reference_tokens(stacks, params) -> None:
    head = copy.deepcopy(stacks["prod"])
    grants = head["resource"]["databricks_grants"]
    first = next(iter(grants.values()))
    first["grant"][0]["privileges"] = [*first["grant"][0]["privileges"], "MODIFY"]
    plans = {"prod": ("plan.json", plan(stacks["prod"], head))}
    review = diff({"prod": stacks["prod"]}, {"prod": head}, Inputs(params, plans=plans))
    (prod,) = review.envs
    assert [a.change for a in prod.access] == ["gained"]
    text = json.dumps(review.to_dict())
    assert "${" not in text
