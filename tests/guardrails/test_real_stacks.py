"""What got through the hold-out run (issue 13), replayed on the real synthesized stacks.

Each case weakens an in-memory copy of the session's synthesized JSON (``synth_dir``, one synth per
test run) the way a risky config or construct change would, and expects exactly the named rules,
on the named resource. The unmodified stacks pass (the first test), so every finding below comes
from the weakening. What it does not prove: that Databricks would accept the weakened JSON.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.guardrails import Policies
from infra.guardrails.settings import setting_of
from infra.tfdoc import resources_from_doc
from tests.conftest import Docs
from tests.guardrails.builders import evaluate_docs


def one(doc: dict[str, Any], rtype: str, *words: str) -> tuple[str, dict[str, Any]]:
    """The single resource of ``rtype`` whose logical id mentions every word."""
    (found,) = [
        (f"{rtype}.{name}", body)
        for name, body in doc["resource"][rtype].items()
        if all(w in name for w in words)
    ]
    return found


def cluster(job: dict[str, Any]) -> dict[str, Any]:
    return job["job_cluster"][0]["new_cluster"]


def edit_definition(policy: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
    definition = json.loads(policy["definition"])
    change(definition)
    policy["definition"] = json.dumps(definition)


# --- the weakenings: each returns the address the finding must name --------------------------


def scope_managed_by_users(docs: Docs) -> str:
    address, scope = one(docs["prod"], "databricks_secret_scope", "secret-scope")
    scope["initial_manage_principal"] = "users"
    return address


def monitor_runs_a_script_from_dbfs(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "churn", "monitor")
    job["task"][0]["spark_python_task"] = {"python_file": "dbfs:/jobs/monitor.py"}
    return address


def init_script_from_dbfs(docs: Docs) -> str:
    address, job = one(docs["staging"], "databricks_job", "churn", "_train-job")
    cluster(job)["init_scripts"] = [{"workspace": {"destination": "dbfs:/init/setup.sh"}}]
    return address


def wheel_from_dbfs(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "fraud", "_train-job")
    job["task"][0]["library"] = [{"whl": "dbfs:/FileStore/wheels/platform.whl"}]
    return address


def serving_env_var_with_a_token(docs: Docs) -> str:
    address, endpoint = one(docs["prod"], "databricks_model_serving", "churn")
    endpoint["config"] = {
        "served_entities": [
            {
                "entity_name": "mlops_prod.models.marketing_churn_gbm",
                "entity_version": "3",
                "environment_vars": {"DATABRICKS_TOKEN": "dapi" + "ab12" * 8},
            }
        ]
    }
    return address


def policy_fixes_a_secret(docs: Docs) -> str:
    address, policy = one(docs["dev"], "databricks_cluster_policy", "cpu_training")
    edit_definition(
        policy,
        lambda d: d.update({"spark_env_vars.MLFLOW_TRACKING_TOKEN": {"type": "fixed", "value": "t0k"}}),
    )
    return address


def policy_fixes_a_storage_key(docs: Docs) -> str:
    address, policy = one(docs["staging"], "databricks_cluster_policy", "inference")
    key = "spark_conf.fs.azure.account.key.lake.dfs.core.windows.net"
    edit_definition(policy, lambda d: d.update({key: {"type": "fixed", "value": "c2VjcmV0a2V5"}}))
    return address


def storage_key_in_spark_conf(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "churn", "retrain")
    cluster(job)["spark_conf"] = {"fs.azure.account.key.lake.dfs.core.windows.net": "c2VjcmV0a2V5"}
    return address


def package_repo_with_credentials(docs: Docs) -> str:
    address, job = one(docs["staging"], "databricks_job", "fraud", "monitor")
    job["task"][0]["library"].append(
        {"pypi": {"package": "acme-features", "repo": "https://ci:hunter2@pypi.acme.example/simple"}}
    )
    return address


def spark_submit_with_a_token(docs: Docs) -> str:
    address, job = one(docs["dev"], "databricks_job", "churn", "_train-job")
    job["task"][0].pop("python_wheel_task")
    job["task"][0]["spark_submit_task"] = {
        "parameters": ["--conf", "spark.acme.api.token=abc123", "--py-files", "x.zip", "main.py"]
    }
    return address


def prod_catalog_for_account_users(docs: Docs) -> str:
    address, grants = one(docs["prod"], "databricks_grants", "catalog_grants_")
    grants["grant"].append(
        {"principal": "account users", "privileges": ["USE_CATALOG", "USE_SCHEMA", "SELECT"]}
    )
    return address


def data_scientists_create_clusters(docs: Docs) -> str:
    address, entitlements = one(docs["prod"], "databricks_entitlements", "data_scientists")
    entitlements["allow_cluster_create"] = True
    return address


def analysts_create_pools(docs: Docs) -> str:
    address, entitlements = one(docs["dev"], "databricks_entitlements", "analysts")
    entitlements["allow_instance_pool_create"] = True
    return address


def data_scientists_on_the_prod_gpu_policy(docs: Docs) -> str:
    address, permissions = one(docs["prod"], "databricks_permissions", "gpu_training")
    permissions["access_control"].append({"group_name": "data-scientists", "permission_level": "CAN_USE"})
    return address


def data_scientists_on_the_prod_training_policy(docs: Docs) -> str:
    address, permissions = one(docs["prod"], "databricks_permissions", "cpu_training")
    permissions["access_control"].append({"group_name": "data-scientists", "permission_level": "CAN_USE"})
    return address


def prod_inference_on_spot_only(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "fraud", "monitor")
    cluster(job)["aws_attributes"] = {"availability": "SPOT", "first_on_demand": 0}
    return address


def prod_inference_on_spot_with_fallback(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "churn", "monitor")
    cluster(job)["aws_attributes"] = {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1}
    return address


def training_driver_on_spot(docs: Docs) -> str:
    address, policy = one(docs["prod"], "databricks_cluster_policy", "cpu_training")
    edit_definition(
        policy, lambda d: d.update({"aws_attributes.first_on_demand": {"type": "fixed", "value": 0}})
    )
    return address


def dev_inference_on_demand(docs: Docs) -> str:
    address, policy = one(docs["dev"], "databricks_cluster_policy", "inference")
    edit_definition(
        policy, lambda d: d.update({"aws_attributes.availability": {"type": "fixed", "value": "ON_DEMAND"}})
    )
    return address


def dashboard_with_publisher_credentials(docs: Docs) -> str:
    address, dashboard = one(docs["staging"], "databricks_dashboard", "fleet")
    dashboard.pop("embed_credentials")  # the provider's default: true
    return address


def alert_without_run_as(docs: Docs) -> str:
    address, alert = one(docs["prod"], "databricks_alert_v2", "dataset_drift")
    alert.pop("run_as")
    return address


def slack_url_in_code(docs: Docs) -> str:
    address, dest = one(docs["prod"], "databricks_notification_destination", "mlops-alerts")
    dest["config"]["slack"]["url"] = (
        "https://hooks.slack.com/services/T0000000/B0000000/abcdefghijklmnopqrstuvwx"
    )
    return address


def warehouse_grown_large(docs: Docs) -> str:
    address, warehouse = one(docs["dev"], "databricks_sql_endpoint", "fleet")
    warehouse.update(cluster_size="X-Large", max_num_clusters=10)
    return address


def monitor_without_duration_warning(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "churn", "monitor")
    job.pop("health")
    return address


def feature_table_with_a_nullable_timestamp_key(docs: Docs) -> str:
    address, table = one(docs["prod"], "databricks_sql_table", "customer_features")
    for column in table["column"]:
        if column["name"] == "event_ts":
            column["nullable"] = True
    return address


def gpu_training_every_minute(docs: Docs) -> str:
    address, job = one(docs["prod"], "databricks_job", "fraud", "_train-job")
    job["schedule"]["quartz_cron_expression"] = "0 * * * * ?"
    return address


WEAKENINGS: dict[str, tuple[set[str], Callable[[Docs], str]]] = {
    "secret scope whose initial_manage_principal is users": ({"DBX009"}, scope_managed_by_users),
    "job task runs a script from dbfs:": ({"DBX011"}, monitor_runs_a_script_from_dbfs),
    "init script from dbfs:": ({"DBX011"}, init_script_from_dbfs),
    "wheel library from dbfs:": ({"DBX011"}, wheel_from_dbfs),
    "serving environment_vars hold a token": ({"DBX003"}, serving_env_var_with_a_token),
    "cluster policy fixes a secret env var": ({"DBX003"}, policy_fixes_a_secret),
    "cluster policy fixes fs.azure.account.key.*": ({"DBX003"}, policy_fixes_a_storage_key),
    "fs.azure.account.key.* in a job's spark_conf": ({"DBX003"}, storage_key_in_spark_conf),
    "package repository URL with credentials": ({"DBX003"}, package_repo_with_credentials),
    "token in spark_submit_task parameters": ({"DBX003"}, spark_submit_with_a_token),
    "prod catalog readable by account users": ({"DBX002"}, prod_catalog_for_account_users),
    "data scientists may create clusters": ({"DBX109"}, data_scientists_create_clusters),
    "analysts may create instance pools": ({"DBX109"}, analysts_create_pools),
    "data scientists CAN_USE the prod GPU policy": ({"DBX017"}, data_scientists_on_the_prod_gpu_policy),
    "data scientists CAN_USE the prod CPU training policy": (
        {"DBX017"},
        data_scientists_on_the_prod_training_policy,
    ),
    "spot-only prod inference": ({"DBX110", "DBX112"}, prod_inference_on_spot_only),
    "prod inference on spot with fallback": ({"DBX112"}, prod_inference_on_spot_with_fallback),
    "prod training driver on spot": ({"DBX113"}, training_driver_on_spot),
    "dev batch scoring on on-demand only": ({"DBX113"}, dev_inference_on_demand),
    "dashboard published with the publisher's credentials": (
        {"DBX115"},
        dashboard_with_publisher_credentials,
    ),
    "SQL alert without run_as": ({"DBX116"}, alert_without_run_as),
    "Slack webhook URL written in code": ({"DBX003", "DBX117"}, slack_url_in_code),
    "SQL warehouse grown past its caps": ({"DBX114"}, warehouse_grown_large),
    "monitor job without a duration warning": ({"DBX118"}, monitor_without_duration_warning),
    "GPU training fires every minute": ({"DBX111"}, gpu_training_every_minute),
    "feature table whose timestamp key may be null": (
        {"DBX119"},
        feature_table_with_a_nullable_timestamp_key,
    ),
}


def test_the_shipped_stacks_pass(shipped_docs: Docs, policies: Policies) -> None:
    report = evaluate_docs(shipped_docs, policies)
    assert [f"{f.env} {f.rule.id} {f.address}: {f.message}" for f in report.findings] == []


@pytest.mark.parametrize("case", sorted(WEAKENINGS))
def test_fails_weakened_real_stacks(shipped_docs: Docs, policies: Policies, case: str) -> None:
    expected, weaken = WEAKENINGS[case]
    docs = copy.deepcopy(shipped_docs)
    address = weaken(docs)
    report = evaluate_docs(docs, policies)
    assert {f.rule.id for f in report.unwaived()} == expected, [
        f"{f.rule.id} {f.address}: {f.message}" for f in report.findings
    ]
    assert address in {f.address for f in report.findings}
    assert report.exit_code() == 1


def test_findings_name_resources_not_references(shipped_docs: Docs, policies: Policies) -> None:
    docs = copy.deepcopy(shipped_docs)
    address = data_scientists_on_the_prod_gpu_policy(docs)
    (finding,) = [f for f in evaluate_docs(docs, policies).findings if f.address == address]
    assert "${" not in finding.message
    assert "'mlops-prod-gpu-training'" in finding.message  # the policy's name, not its reference


def test_findings_name_the_limit_and_the_setting_behind_them(shipped_docs: Docs, policies: Policies) -> None:
    docs = copy.deepcopy(shipped_docs)
    gpu_training_every_minute(docs)
    (finding,) = [f for f in evaluate_docs(docs, policies).findings if f.rule.id == "DBX111"]
    assert "gpu_job_min_interval_minutes = 60 (policies/guardrails/params.yaml: defaults." in (
        " | ".join(finding.held_against)
    )
    assert finding.setting == (
        "stacks/models.yaml: models[name=risk_fraud_xgb].training; stacks/prod.yaml: jobs, compute"
    )
    docs = copy.deepcopy(shipped_docs)
    address, policy = one(docs["prod"], "databricks_cluster_policy", "cpu_training")
    edit_definition(policy, lambda d: d["node_type_id"]["values"].append("x1.32xlarge"))
    (finding,) = [f for f in evaluate_docs(docs, policies).findings if f.address == address]
    assert finding.rule.id == "DBX013"
    assert any(h.startswith("cpu_node_types = ['m5d.large'") for h in finding.held_against)
    assert finding.setting == (
        "stacks/prod.yaml: compute.cpu_training; policies/cluster_policies/cpu_training.json.j2"
    )


def test_every_shipped_resource_maps_to_the_setting_that_produces_it(
    shipped_docs: Docs, repo_root: Path
) -> None:
    """A renamed construct would leave findings without a setting: this fails first."""
    unmapped = []
    for env, doc in shipped_docs.items():
        for res in resources_from_doc(doc, env):
            if res.mode not in ("managed", "data") or res.construct_path is None:
                continue
            setting = setting_of(res.construct_path)
            if setting is None:
                unmapped.append(res.construct_path)
                continue
            for part in setting.split("; "):
                assert (repo_root / part.split(":", 1)[0]).is_file(), (res.construct_path, setting)
    assert unmapped == []
