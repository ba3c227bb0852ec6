"""The fleet in the real stacks: what each environment's synthesized JSON holds for running many models.

Read from the session's one synth (``synth_dir``); nothing runs Terraform. Proves the JSON: URLs only
through a sensitive variable, warehouse/dashboard/alerts/inventory per environment with the role
matrix's ACLs, duration rules from the model specs, capacity per workload in the policies, and that
every wheel entry point a job names exists in the wheel. Not proven: Databricks' behaviour.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import pytest

from infra.cdk import Testing as CdktfTesting  # aliased: pytest would try to collect 'Test*'
from mlops_spec.config import ENV_NAMES, load_platform
from stacks.environment_stack import EnvironmentStack
from tests.stacks.test_environment_stacks import load, principal, resources


@pytest.fixture(scope="module")
def stacks(synth_dir: Path) -> dict[str, dict]:
    return {env: load(synth_dir, env) for env in ENV_NAMES}


def _by_name(doc: dict, rtype: str, key: str = "name") -> dict[str, dict]:
    return {body[key]: body for body in resources(doc, rtype).values()}


@pytest.mark.parametrize("env", ENV_NAMES)
def test_every_environment_has_its_warehouse_dashboard_alerts_and_inventory(stacks: dict, env: str) -> None:
    doc = stacks[env]
    (warehouse,) = resources(doc, "databricks_sql_endpoint").values()
    assert warehouse["name"] == f"mlops-{env}" and warehouse["enable_serverless_compute"] is True
    (dashboard,) = resources(doc, "databricks_dashboard").values()
    assert dashboard["embed_credentials"] is False
    assert dashboard["parent_path"].startswith("${databricks_directory.fleet_folder")
    alerts = _by_name(doc, "databricks_alert_v2", "display_name")
    assert sorted(alerts) == [
        f"[{env}] fleet: {k}" for k in ("dataset drift", "monitoring stale", "performance floor")
    ]
    for alert in alerts.values():
        assert principal(doc, alert["run_as"]["service_principal_name"]) == f"sp-mlops-jobs-{env}"
    inventory = _by_name(doc, "databricks_job")[f"[{env}] fleet: inventory"]
    assert inventory["task"][0]["python_wheel_task"]["named_parameters"] == {"env": env}
    assert principal(doc, inventory["run_as"]["service_principal_name"]) == f"sp-mlops-jobs-{env}"


@pytest.mark.parametrize("env", ENV_NAMES)
def test_notification_urls_come_only_from_a_sensitive_variable(stacks: dict, env: str) -> None:
    doc = stacks[env]
    assert doc["variable"]["notification_urls"]["sensitive"] is True
    (dest,) = resources(doc, "databricks_notification_destination").values()
    assert dest["config"] == {"slack": {"url": '${var.notification_urls["mlops-alerts"]}'}}
    assert "hooks.slack.com" not in json.dumps(doc)


def test_model_jobs_warn_past_their_spec_threshold_and_notify_the_destination(stacks: dict) -> None:
    jobs = _by_name(stacks["prod"], "databricks_job")
    limits = {name: job["health"]["rules"][0]["value"] for name, job in jobs.items()}
    # marketing_churn_gbm sets its thresholds in models.yaml; risk_fraud_xgb takes 80% of the 4 h timeout.
    assert limits["[prod] marketing_churn_gbm: train"] == 3600
    assert limits["[prod] marketing_churn_gbm: monitor"] == 1200
    assert limits["[prod] risk_fraud_xgb: train"] == int(14400 * 0.8)
    for job in jobs.values():
        assert job["webhook_notifications"]["on_failure"][0]["id"].startswith(
            "${databricks_notification_destination.notifications_mlops-alerts"
        )
        assert job["health"]["rules"][0]["value"] < job["timeout_seconds"]


def test_capacity_is_spot_with_fallback_except_prod_inference(stacks: dict) -> None:
    for env, doc in stacks.items():
        for policy in resources(doc, "databricks_cluster_policy").values():
            definition = json.loads(policy["definition"])
            profile = policy["name"].removeprefix(f"mlops-{env}-")
            availability = definition.get("aws_attributes.availability", {}).get("value")
            if profile == "interactive":
                assert availability is None  # left to the person, within the policy's other caps
            elif profile == "inference" and env == "prod":
                assert availability == "ON_DEMAND"
            else:
                assert availability == "SPOT_WITH_FALLBACK", (env, profile)
                assert definition["aws_attributes.first_on_demand"]["value"] >= 1  # an on-demand driver


def test_the_warehouse_and_dashboard_acls_come_from_the_role_matrix(stacks: dict) -> None:
    doc = stacks["staging"]
    acls = {}
    for body in resources(doc, "databricks_permissions").values():
        target = (
            "sql_endpoint_id"
            if "sql_endpoint_id" in body
            else "dashboard_id"
            if "dashboard_id" in body
            else None
        )
        if target:
            acls[target] = {
                principal(doc, a.get("group_name") or a["service_principal_name"]): a["permission_level"]
                for a in body["access_control"]
            }
    assert acls["sql_endpoint_id"]["sp-mlops-deployer-staging"] == "IS_OWNER"
    assert acls["sql_endpoint_id"]["sp-mlops-jobs-staging"] == "CAN_USE"
    assert acls["sql_endpoint_id"]["analysts"] == "CAN_USE"
    assert acls["dashboard_id"] == {
        "mlops-engineers": "CAN_MANAGE",
        "ml-engineers": "CAN_RUN",
        "data-scientists": "CAN_RUN",
        "analysts": "CAN_RUN",
    }


def test_every_entry_point_a_job_runs_is_in_the_wheel(stacks: dict, platform_wheel: Path) -> None:
    with zipfile.ZipFile(platform_wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
        text = wheel.read(name).decode()
    shipped = {line.split("=")[0].strip() for line in text.splitlines() if "=" in line}
    used = {
        task["python_wheel_task"]["entry_point"]
        for doc in stacks.values()
        for job in resources(doc, "databricks_job").values()
        for task in job["task"]
    }
    assert "inventory" in used
    assert used <= shipped


def test_without_the_fleet_there_is_no_warehouse_dashboard_alert_or_inventory(platform_wheel: Path) -> None:
    platform = load_platform("dev")
    env = platform.env.model_copy(update={"fleet": platform.env.fleet.model_copy(update={"enabled": False})})
    stack = EnvironmentStack(
        CdktfTesting.app(), "dev", dataclasses.replace(platform, env=env), platform_wheel
    )
    doc = json.loads(CdktfTesting.synth(stack))
    for rtype in ("databricks_sql_endpoint", "databricks_dashboard", "databricks_alert_v2"):
        assert rtype not in doc["resource"]
    assert "[dev] fleet: inventory" not in _by_name(doc, "databricks_job")
    assert "databricks_notification_destination" in doc["resource"]  # jobs still notify
