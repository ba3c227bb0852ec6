"""The fleet constructs alone (defaults, everything on) and the fleet config's refusals.

Proves what the JSON handed to Terraform says; not what Databricks does with it (the simulator and a
real deploy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cdk import Construct, Job
from infra.constructs.fleet import Fleet, FleetProps, NotificationDestinations, watch_job
from infra.constructs.ml_model import JobCompute, JobDefaults
from mlops_spec.config import ConfigError, load_platform
from mlops_spec.config.fleet import (
    AlertsConfig,
    InventoryConfig,
    JobHealthSpec,
    NotificationDestination,
    WarehouseConfig,
    capacity_of,
)
from tests.cdk_constructs.conftest import of_type, only, synth

COMPUTE = JobCompute("policy-id", "15.4.x-cpu-ml-scala2.12", "m5d.large", 2)
JOBS = JobDefaults(("ops@example.com",), 3600, 1, 1000, run_as="app-id-of-the-runner")


def fleet(scope: Construct, **changes: Any) -> Fleet:
    props = {
        "env": "dev",
        "is_prod": False,
        "catalog": "mlops_dev",
        "platform_folder": "/mlops/Development",
        "tags": {"team": "t", "cost_center": "c", "env": "dev"},
        "warehouse": WarehouseConfig(),
        "inventory": InventoryConfig(),
        "alerts": AlertsConfig(),
        "wheel_path": "/Volumes/mlops_dev/models/artifacts/w.whl",
        "compute": COMPUTE,
        "jobs": JOBS,
        "run_as": JOBS.run_as,
        **changes,
    }
    return Fleet(scope, "fleet", FleetProps(**props))


def test_defaults_a_small_serverless_warehouse_a_viewer_credentials_dashboard_and_paused_nothing() -> None:
    doc = synth(fleet)
    warehouse = only(doc, "databricks_sql_endpoint")
    assert warehouse["enable_serverless_compute"] is True and warehouse["warehouse_type"] == "PRO"
    assert (warehouse["cluster_size"], warehouse["max_num_clusters"], warehouse["auto_stop_mins"]) == (
        "2X-Small",
        1,
        10,
    )
    assert "spot_instance_policy" not in warehouse  # a classic-only setting
    dashboard = only(doc, "databricks_dashboard")
    assert dashboard["embed_credentials"] is False
    assert (
        dashboard["parent_path"].startswith("${databricks_directory.")
        and "warehouse" in dashboard["warehouse_id"]
    )
    served = json.loads(dashboard["serialized_dashboard"])
    assert {d["name"] for d in served["datasets"]} >= {
        "inventory",
        "feature_drift",
        "performance",
        "decisions",
    }
    assert "mlops_dev.monitoring.model_inventory" in "".join(served["datasets"][0]["queryLines"])
    alerts = of_type(doc, "databricks_alert_v2")
    assert len(alerts) == 3
    for alert in alerts.values():
        assert alert["run_as"] == {"service_principal_name": "app-id-of-the-runner"}
        assert alert["schedule"]["pause_status"] == "UNPAUSED"
        assert alert["evaluation"]["notification"]["subscriptions"] == []  # none configured here
    (job,) = of_type(doc, "databricks_job").values()
    task = job["task"][0]["python_wheel_task"]
    assert (task["entry_point"], task["named_parameters"]) == ("inventory", {"env": "dev"})
    assert job["schedule"]["quartz_cron_expression"] == "0 0 7 * * ?"
    assert job["health"]["rules"] == [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 1800}]
    assert "webhook_notifications" not in job
    assert not of_type(doc, "databricks_permissions")  # nobody granted anything here


def test_everything_on_a_classic_warehouse_destinations_acls_and_paused_schedules() -> None:
    def build(scope: Construct) -> None:
        dests = NotificationDestinations(
            scope,
            "notifications",
            (
                NotificationDestination(name="oncall", type="slack"),
                NotificationDestination(name="hook", type="generic_webhook"),
            ),
        )
        fleet(
            scope,
            is_prod=True,
            warehouse=WarehouseConfig(serverless=False, cluster_size="Small", max_num_clusters=2),
            jobs=JobDefaults(("ops@example.com",), 3600, 1, 1000, run_as="app", pause_schedules=True),
            alert_destinations=dests.pick(["oncall"]),
            job_destinations=dests.pick(["oncall", "hook"]),
            warehouse_access={
                "analysts": ("group", "CAN_USE"),
                "app-deployer": ("service_principal", "IS_OWNER"),
            },
            dashboard_access={"analysts": ("group", "CAN_RUN")},
            job_access={"mlops": ("group", "CAN_MANAGE")},
        )

    doc = synth(build)
    assert doc["variable"]["notification_urls"] == {
        "description": "Notification destination name -> webhook URL (CI: TF_VAR_notification_urls).",
        "sensitive": True,
        "type": "map(string)",
    }
    destinations = of_type(doc, "databricks_notification_destination")
    configs = sorted((d["display_name"], d["config"]) for d in destinations.values())
    assert configs == [
        ("hook", {"generic_webhook": {"url": "${var.notification_urls.hook}"}}),
        ("oncall", {"slack": {"url": "${var.notification_urls.oncall}"}}),
    ]
    warehouse = only(doc, "databricks_sql_endpoint")
    assert (
        warehouse["spot_instance_policy"] == "RELIABILITY_OPTIMIZED"
        and warehouse["enable_serverless_compute"] is False
    )
    for alert in of_type(doc, "databricks_alert_v2").values():
        assert alert["schedule"]["pause_status"] == "PAUSED"
        (sub,) = alert["evaluation"]["notification"]["subscriptions"]
        assert sub["destination_id"].startswith("${databricks_notification_destination.")
    (job,) = of_type(doc, "databricks_job").values()
    assert len(job["webhook_notifications"]["on_failure"]) == 2
    assert job["schedule"]["pause_status"] == "PAUSED"
    targets = {
        next(k for k in p if k.endswith("_id")) for p in of_type(doc, "databricks_permissions").values()
    }
    assert targets == {"sql_endpoint_id", "dashboard_id", "job_id"}


def test_a_job_gets_a_duration_rule_webhooks_and_emails_for_both_events() -> None:
    def build(scope: Construct) -> None:
        job = Job(scope, "job", name="j")
        watch_job(job, 900, ["${databricks_notification_destination.x.id}"], ["ops@example.com"])

    job = only(synth(build), "databricks_job")
    assert job["health"] == {
        "rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 900}]
    }
    assert job["webhook_notifications"]["on_duration_warning_threshold_exceeded"] == [
        {"id": "${databricks_notification_destination.x.id}"}
    ]
    assert job["email_notifications"]["on_duration_warning_threshold_exceeded"] == ["ops@example.com"]


def test_duration_warnings_default_to_a_share_of_the_timeout_and_capacity_to_the_workload() -> None:
    assert JobHealthSpec().warning_seconds("train", 7200) == 5760
    assert JobHealthSpec(monitor_warning_seconds=600).warning_seconds("monitor", 7200) == 600
    assert capacity_of("inference", None, is_prod=True) == "on_demand"
    assert capacity_of("inference", None, is_prod=False) == "spot_with_fallback"
    assert capacity_of("cpu_training", None, is_prod=True) == "spot_with_fallback"
    assert capacity_of("interactive", None, is_prod=False) is None
    assert capacity_of("gpu_training", "on_demand", is_prod=False) == "on_demand"


# --- refusals: the config names the key, the value and what is allowed -----------------------------


def _env_with(tmp_path: Path, repo_root: Path, change: dict[str, Any]) -> Path:
    data = yaml.safe_load((repo_root / "stacks" / "dev.yaml").read_text())
    data.update(change)
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "models.yaml").write_text((repo_root / "stacks" / "models.yaml").read_text())
    return tmp_path


SLACK = [{"name": "a1", "type": "slack"}]
REFUSED = {
    "an alert destination never declared": (
        {"notifications": {"destinations": SLACK, "sql_alerts": ["b2"]}},
        "notifications.sql_alerts[0]: unknown notification destination; got 'b2'; allowed: a1",
    ),
    "a destination declared twice": (
        {"notifications": {"destinations": SLACK * 2}},
        "notifications.destinations[1].name: duplicate destination",
    ),
    "an e-mail destination": (
        {"notifications": {"destinations": [{"name": "a1", "type": "email"}]}},
        "notifications.destinations[0].type",
    ),
    "a webhook URL in config": (
        {
            "notifications": {
                "destinations": [{**SLACK[0], "url": "https://hooks.slack.com/services/T1/B2/c3"}]
            }
        },
        "notifications.destinations[0].url: unknown key",
    ),
    "an auto-stop the API refuses": (
        {"fleet": {"warehouse": {"auto_stop_mins": 5}}},
        "fleet.warehouse.auto_stop_mins",
    ),
    "more clusters kept than allowed": (
        {"fleet": {"warehouse": {"min_num_clusters": 3, "max_num_clusters": 2}}},
        "fleet.warehouse: min_num_clusters 3 exceeds max_num_clusters 2",
    ),
    "a schedule that is not a cron": (
        {"fleet": {"inventory": {"schedule": "every day"}}},
        "fleet.inventory.schedule: invalid cron",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_fails_fleet_config_with_its_key_path(tmp_path: Path, repo_root: Path, case: str) -> None:
    change, message = REFUSED[case]
    with pytest.raises(ConfigError) as caught:
        load_platform("dev", _env_with(tmp_path, repo_root, change), repo_root / "policies")
    assert f"dev.yaml: {message}" in str(caught.value)
