"""The review core on hand-made documents: access, policy rules, resource actions, cost, verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.review import Inputs, diff, load_params
from infra.review.cost import runs_per_month
from infra.review.policy_rules import describe, direction
from tests.review.docs import INTERACTIVE, base_doc, resources


@pytest.fixture(scope="module")
def params(repo_root: Path):
    return load_params(repo_root / "policies")


def review(params, base, head, env="prod", **kwargs):
    return diff({env: base}, {env: head}, Inputs(params, **kwargs))


def test_no_change_passes_with_nothing_to_report(params) -> None:
    (env,) = review(params, base_doc(), base_doc()).envs
    assert (env.verdict, env.changes, env.access, env.policies) == ("pass", [], [], [])
    assert env.cost.delta == 0


def test_access_names_principals_and_securables_not_tokens(params) -> None:
    head = base_doc()
    resources(head)["databricks_grants"]["g"]["grant"][0]["privileges"] = ["SELECT", "MODIFY"]
    resources(head)["databricks_grants"]["g"]["grant"][1]["privileges"] = ["SELECT"]
    env = review(params, base_doc(), head).envs[0]
    rows = {(a.change, a.principal, a.principal_kind, a.securable, a.privilege) for a in env.access}
    assert rows == {
        ("gained", "data-scientists", "group", "schema main_cat.features", "MODIFY"),
        ("lost", "sp-jobs", "service principal", "schema main_cat.features", "MODIFY"),
    }


def test_write_on_prod_is_an_escalation_but_not_in_dev(params) -> None:
    head = base_doc()
    resources(head)["databricks_grants"]["g"]["grant"][0]["privileges"] = ["SELECT", "MODIFY"]
    prod = review(params, base_doc(), head, "prod").envs[0]
    dev = review(params, base_doc(), head, "dev").envs[0]
    assert [a.escalation for a in prod.access] == ["write on prod"]
    assert prod.verdict == "warn" and "escalation" in prod.kinds
    assert [a.escalation for a in dev.access] == [None]


def test_new_admin_membership_is_an_escalation(params) -> None:
    head = base_doc()
    resources(head)["databricks_group_member"] = {
        "m": {"group_id": "${data.databricks_group.admins.id}", "member_id": "${databricks_group.ds.id}"}
    }
    resources(head)["databricks_group"]["admins"] = {"display_name": "admins"}
    resources(head)["databricks_group_member"]["m"]["group_id"] = "${databricks_group.admins.id}"
    env = review(params, base_doc(), head, "dev").envs[0]
    (admin,) = [a for a in env.access if a.securable == "group admins"]
    assert (admin.principal, admin.escalation) == ("data-scientists", "new admin")


def test_routine_manage_on_a_new_object_is_not_an_escalation(params) -> None:
    head = base_doc()
    resources(head)["databricks_job"]["score"] = {"name": "score"}
    resources(head)["databricks_permissions"]["score_perms"] = {
        "job_id": "${databricks_job.score.id}",
        "access_control": [
            {
                "service_principal_name": "${databricks_service_principal.runner.application_id}",
                "permission_level": "CAN_MANAGE",
            }
        ],
    }
    env = review(params, base_doc(), head, "dev").envs[0]
    (gained,) = env.access
    assert (gained.securable, gained.privilege, gained.escalation) == ("job score", "CAN_MANAGE", None)


def test_policy_rules_are_compared_rule_by_rule(params) -> None:
    head = base_doc()
    looser = {**INTERACTIVE, "autotermination_minutes": {"type": "range", "maxValue": 120}}
    looser["node_type_id"] = {"type": "allowlist", "values": ["m5d.large", "m5d.4xlarge"]}
    resources(head)["databricks_cluster_policy"]["interactive"]["definition"] = json.dumps(looser)
    env = review(params, base_doc(), head, "dev").envs[0]
    (policy,) = env.policies
    changes = {c.attribute: (c.before, c.after, c.direction) for c in policy.changes}
    assert changes == {
        "autotermination_minutes": ("fixed 30 (hidden)", "range max 120", "loosened"),
        "node_type_id": ("allowlist [m5d.large]", "allowlist [m5d.large, m5d.4xlarge]", "loosened"),
    }
    assert env.verdict == "warn" and "policy_loosened" in env.kinds
    # the JSON string itself is not repeated as an attribute diff
    assert all(a.path != "definition" for c in env.changes for a in c.attrs)


@pytest.mark.parametrize(
    ("attribute", "before", "after", "expected"),
    [
        ("dbus_per_hour", {"type": "range", "maxValue": 10}, {"type": "range", "maxValue": 5}, "tightened"),
        (
            "spark_version",
            {"type": "fixed", "value": "a"},
            {"type": "allowlist", "values": ["a", "b"]},
            "loosened",
        ),
        ("ssh_public_keys.*", {"type": "forbidden"}, None, "loosened"),
        ("custom_tags.team", None, {"type": "fixed", "value": "x"}, "added"),
        ("spark_version", {"type": "fixed", "value": "a"}, {"type": "fixed", "value": "b"}, "changed"),
    ],
)
def test_rule_direction(attribute, before, after, expected) -> None:
    assert direction(attribute, before, after) == expected


def test_rule_descriptions() -> None:
    assert describe({"type": "range", "minValue": 10, "maxValue": 120}) == "range 10..120"
    assert (
        describe({"type": "unlimited", "defaultValue": "x", "isOptional": True})
        == "unlimited default x optional"
    )
    assert describe(None) == "(no rule)"


def test_removed_schema_in_prod_blocks_and_elsewhere_warns(params) -> None:
    head = base_doc()
    del resources(head)["databricks_schema"]["feat"]
    prod = review(params, base_doc(), head, "prod").envs[0]
    dev = review(params, base_doc(), head, "dev").envs[0]
    assert [(c.address, c.action) for c in prod.destructive] == [("databricks_schema.feat", "delete")]
    assert prod.verdict == "block" and dev.verdict == "warn"


def test_renamed_construct_is_an_address_change_that_destroys(params) -> None:
    head = base_doc()
    resources(head)["databricks_schema"] = {"feat_renamed": resources(head)["databricks_schema"]["feat"]}
    env = review(params, base_doc(), head, "staging").envs[0]
    (change,) = [c for c in env.changes if c.type == "databricks_schema"]
    assert (change.action, change.old_address, change.destructive) == (
        "replace",
        "databricks_schema.feat",
        True,
    )
    assert "address change: destroys and recreates" in change.reason


def test_force_new_attribute_is_a_replacement(params) -> None:
    head = base_doc()
    resources(head)["databricks_catalog"]["cat"]["name"] = "other_cat"
    env = review(params, base_doc(), head, "dev").envs[0]
    (cat,) = [c for c in env.changes if c.type == "databricks_catalog"]
    assert cat.action == "replace" and "name" in cat.reason


def test_sensitive_values_are_masked(params) -> None:
    base, head = base_doc(), base_doc()
    resources(base)["databricks_secret"] = {"s": {"scope": "x", "key": "k", "string_value": "old-secret"}}
    resources(head)["databricks_secret"] = {"s": {"scope": "x", "key": "k", "string_value": "new-secret"}}
    resources(head)["databricks_job"]["train"]["description"] = "token dapi" + "0" * 32
    env = review(params, base, head, "dev").envs[0]
    shown = json.dumps(env.to_dict())
    assert "new-secret" not in shown and "old-secret" not in shown and "dapi000" not in shown
    assert "(sensitive)" in shown


def test_job_cost_is_cap_times_price_times_runs_times_timeout(params) -> None:
    head = base_doc()
    resources(head)["databricks_job"]["train"]["schedule"]["quartz_cron_expression"] = "0 0 */6 * * ?"
    env = review(params, base_doc(), head, "dev").envs[0]
    a, price = params.pricing.assumptions, params.pricing.usd_per_dbu["jobs_compute"]
    per_run = 20 * price * 2  # policy cap 20 DBU/h, 2 h timeout
    assert env.cost.monthly_before == pytest.approx(per_run * a.days_per_month + 10 * 0.55 * 176)
    assert env.cost.delta == pytest.approx(per_run * a.days_per_month * 3)


def test_a_sql_warehouse_costs_its_clusters_at_its_size_for_the_assumed_hours(params) -> None:
    head = base_doc()
    resources(head)["databricks_sql_endpoint"] = {
        "wh": {
            "name": "mlops-dev",
            "cluster_size": "Small",
            "max_num_clusters": 2,
            "enable_serverless_compute": True,
        }
    }
    env = review(params, base_doc(), head, "dev").envs[0]
    (warehouse,) = [line for line in env.cost.policies_after if line.kind == "warehouse"]
    p = params.pricing
    expected = 2 * p.warehouse_dbus_per_hour["Small"] * p.usd_per_dbu["sql_serverless"] * 176
    assert warehouse.usd_per_month == pytest.approx(expected)
    assert env.cost.delta == pytest.approx(expected)  # counted in the environment's total


def test_paused_schedules_cost_nothing(params) -> None:
    head = base_doc()
    resources(head)["databricks_job"]["train"]["schedule"]["pause_status"] = "PAUSED"
    env = review(params, base_doc(), head, "dev").envs[0]
    (job,) = env.cost.jobs_after
    assert job.usd_per_month == 0 and "paused" in job.note


@pytest.mark.parametrize(
    ("cron", "runs"),
    [
        ("0 0 3 * * ?", 30.44),
        ("0 0 3 ? * MON", 30.44 / 7),
        ("0 */15 * * * ?", 96 * 30.44),
        ("0 0 9-17 ? * MON-FRI", 9 * 30.44 * 5 / 7),
        ("0 0 0 1,15 * ?", 2),
        ("0 0 0 1 1 ?", 1 / 12),
    ],
)
def test_runs_per_month(cron: str, runs: float) -> None:
    assert runs_per_month(cron, 30.44) == pytest.approx(runs)


def test_cost_increase_above_threshold_warns_and_asks_finops(params) -> None:
    head = base_doc()
    resources(head)["databricks_job"]["train"]["schedule"]["quartz_cron_expression"] = "0 0 * * * ?"
    env = review(params, base_doc(), head, "dev")
    assert env.envs[0].verdict == "warn" and "cost_increase" in env.envs[0].kinds
    assert any(a.team == "@acme/finops" for a in env.approvals)


def test_budget_overrun_warns(params) -> None:
    env = diff({"dev": base_doc()}, {"dev": base_doc()}, Inputs(params, budgets={"dev": 100.0})).envs[0]
    assert env.verdict == "warn" and any("budget" in r for r in env.reasons)


def test_environment_only_in_head_is_all_create(params) -> None:
    rv = diff({}, {"dev": base_doc()}, Inputs(params))
    assert {c.action for c in rv.envs[0].changes} == {"create"}
