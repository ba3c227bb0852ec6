"""Every rule: the compliant platform passes it, and a deliberately weakened stack fails it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.guardrails import Report
from tests.guardrails.builders import Stack, platform, ref

ENVS = ("dev", "staging", "prod")


def addr(s: Stack, rtype: str, name: str) -> str:
    return f"{rtype}.{s.env}_{name}"


def job(s: Stack) -> dict[str, Any]:
    return s.get(addr(s, "databricks_job", "jobs_churn"))


def job_cluster(s: Stack) -> dict[str, Any]:
    return job(s)["job_cluster"][0]["new_cluster"]


def edit_policy(s: Stack, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    body = s.get(addr(s, "databricks_cluster_policy", name))
    definition = json.loads(body["definition"])
    change(definition)
    body["definition"] = json.dumps(definition)


def conf(s: Stack) -> dict[str, str]:
    return s.get(addr(s, "databricks_workspace_conf", "workspace_conf"))["custom_config"]


def grants(s: Stack) -> list[dict[str, Any]]:
    return s.get(addr(s, "databricks_grants", "uc_catalog_grants"))["grant"]


def endpoint(s: Stack) -> dict[str, Any]:
    return s.get(addr(s, "databricks_model_serving", "serving_churn"))


def deploy_params(s: Stack) -> dict[str, Any]:
    return job(s)["task"][1]["python_wheel_task"]["named_parameters"]


# (rule, env, weakening, type and logical name of the resource the finding must name)
WEAKENED: dict[str, tuple[str, str, Callable[[Stack], None], str]] = {
    "policy definition computed at apply": (
        "DBX000",
        "dev",
        lambda s: s.get(addr(s, "databricks_cluster_policy", "policies_cpu")).update(
            definition="${jsonencode(local.p)}"
        ),
        "databricks_cluster_policy.dev_policies_cpu",
    ),
    "job cluster without UC access mode": (
        "DBX001",
        "dev",
        lambda s: job_cluster(s).update(data_security_mode="NONE"),
        "databricks_job.dev_jobs_churn",
    ),
    "policy admits legacy table ACLs": (
        "DBX001",
        "staging",
        lambda s: edit_policy(
            s,
            "policies_gpu",
            lambda d: d.update(
                data_security_mode={"type": "allowlist", "values": ["SINGLE_USER", "LEGACY_TABLE_ACL"]}
            ),
        ),
        "databricks_cluster_policy.staging_policies_gpu",
    ),
    "all privileges to account users": (
        "DBX002",
        "dev",
        lambda s: grants(s).append({"principal": "account users", "privileges": ["ALL PRIVILEGES"]}),
        "databricks_grants.dev_uc_catalog_grants",
    ),
    "grant to a person": (
        "DBX002",
        "staging",
        lambda s: grants(s).append({"principal": "alice@example.com", "privileges": ["SELECT"]}),
        "databricks_grants.staging_uc_catalog_grants",
    ),
    "users can manage a job": (
        "DBX002",
        "dev",
        lambda s: s.get(addr(s, "databricks_permissions", "jobs_churn_permissions"))["access_control"].append(
            {"group_name": "users", "permission_level": "CAN_MANAGE"}
        ),
        "databricks_permissions.dev_jobs_churn_permissions",
    ),
    "catalog owned by everyone": (
        "DBX002",
        "prod",
        lambda s: s.get(addr(s, "databricks_catalog", "uc_catalog")).update(owner="account users"),
        "databricks_catalog.prod_uc_catalog",
    ),
    "plaintext token in spark conf": (
        "DBX003",
        "dev",
        lambda s: job_cluster(s).update(spark_conf={"spark.hadoop.fs.s3a.secret.key": "hunter2"}),
        "databricks_job.dev_jobs_churn",
    ),
    "PAT in an env var": (
        "DBX003",
        "prod",
        lambda s: job_cluster(s)["spark_env_vars"].update(HOST_CFG="dapi0123456789abcdef0123456789abcdef"),
        "databricks_job.prod_jobs_churn",
    ),
    "password as a job parameter": (
        "DBX003",
        "staging",
        lambda s: job(s)["task"][0]["python_wheel_task"]["named_parameters"].update(db_password="s3cret!"),
        "databricks_job.staging_jobs_churn",
    ),
    "secret value in code": (
        "DBX003",
        "dev",
        lambda s: s.add(
            "databricks_secret", "secrets_api", {"scope": "ml", "key": "api", "string_value": "abc"}
        ),
        "databricks_secret.dev_secrets_api",
    ),
    "token value as an output": (
        "DBX003",
        "dev",
        lambda s: s.doc.setdefault("output", {}).update(tok={"value": "${databricks_token.t.token_value}"}),
        "output.tok",
    ),
    "job cluster without policy": (
        "DBX004",
        "dev",
        lambda s: job_cluster(s).pop("policy_id"),
        "databricks_job.dev_jobs_churn",
    ),
    "job cluster on an unmanaged policy id": (
        "DBX004",
        "prod",
        lambda s: job_cluster(s).update(policy_id="E0631F5C0D0006B7"),
        "databricks_job.prod_jobs_churn",
    ),
    "autotermination removed from the interactive policy": (
        "DBX005",
        "dev",
        lambda s: edit_policy(s, "policies_interactive", lambda d: d.pop("autotermination_minutes")),
        "databricks_cluster_policy.dev_policies_interactive",
    ),
    "autotermination may be disabled": (
        "DBX005",
        "staging",
        lambda s: edit_policy(
            s,
            "policies_interactive",
            lambda d: d.update(autotermination_minutes={"type": "range", "minValue": 0, "maxValue": 30}),
        ),
        "databricks_cluster_policy.staging_policies_interactive",
    ),
    "policy without a DBU cap": (
        "DBX006",
        "dev",
        lambda s: edit_policy(s, "policies_gpu", lambda d: d.pop("dbus_per_hour")),
        "databricks_cluster_policy.dev_policies_gpu",
    ),
    "max workers above the env cap": (
        "DBX006",
        "dev",
        lambda s: edit_policy(
            s,
            "policies_cpu",
            lambda d: d.update({"autoscale.max_workers": {"type": "range", "maxValue": 100}}),
        ),
        "databricks_cluster_policy.dev_policies_cpu",
    ),
    "token lifetime of a year": (
        "DBX007",
        "staging",
        lambda s: conf(s).update(maxTokenLifetimeDays="365"),
        "databricks_workspace_conf.staging_workspace_conf",
    ),
    "no workspace conf at all": (
        "DBX007",
        "dev",
        lambda s: s.remove(addr(s, "databricks_workspace_conf", "workspace_conf")),
        "databricks_workspace_conf (missing)",
    ),
    "prod job runs as a person": (
        "DBX008",
        "prod",
        lambda s: job(s).update(run_as={"user_name": "alice@example.com"}),
        "databricks_job.prod_jobs_churn",
    ),
    "staging job without run_as": (
        "DBX008",
        "staging",
        lambda s: job(s).pop("run_as"),
        "databricks_job.staging_jobs_churn",
    ),
    "staging job without group management": (
        "DBX008",
        "staging",
        lambda s: s.remove(addr(s, "databricks_permissions", "jobs_churn_permissions")),
        "databricks_job.staging_jobs_churn",
    ),
    "data scientists manage a secret scope": (
        "DBX009",
        "dev",
        lambda s: s.add(
            "databricks_secret_acl",
            "secrets_ds",
            {"scope": "ml", "principal": "data-scientists", "permission": "MANAGE"},
        ),
        "databricks_secret_acl.dev_secrets_ds",
    ),
    "everyone reads a secret scope": (
        "DBX009",
        "prod",
        lambda s: s.add(
            "databricks_secret_acl",
            "secrets_users",
            {"scope": "ml", "principal": "users", "permission": "READ"},
        ),
        "databricks_secret_acl.prod_secrets_users",
    ),
    "prod IP access lists off": (
        "DBX010",
        "prod",
        lambda s: conf(s).update(enableIpAccessLists="false"),
        "databricks_workspace_conf.prod_workspace_conf",
    ),
    "prod allow list open to the internet": (
        "DBX010",
        "prod",
        lambda s: s.get(addr(s, "databricks_ip_access_list", "workspace_allow")).update(
            ip_addresses=["0.0.0.0/0"]
        ),
        "databricks_ip_access_list.prod_workspace_allow",
    ),
    "ssh key on a job cluster": (
        "DBX011",
        "dev",
        lambda s: job_cluster(s).update(ssh_public_keys=["ssh-rsa AAAA"]),
        "databricks_job.dev_jobs_churn",
    ),
    "global init script": (
        "DBX011",
        "staging",
        lambda s: s.add("databricks_global_init_script", "init", {"name": "x", "source": "/tmp/x.sh"}),
        "databricks_global_init_script.staging_init",
    ),
    "init script from DBFS": (
        "DBX011",
        "prod",
        lambda s: job_cluster(s).update(init_scripts=[{"dbfs": {"destination": "dbfs:/init.sh"}}]),
        "databricks_job.prod_jobs_churn",
    ),
    "job without cost_center tag": (
        "DBX012",
        "dev",
        lambda s: job(s)["tags"].pop("cost_center"),
        "databricks_job.dev_jobs_churn",
    ),
    "cluster tagged with another env": (
        "DBX012",
        "dev",
        lambda s: s.get(addr(s, "databricks_cluster", "compute_shared"))["custom_tags"].update(env="prod"),
        "databricks_cluster.dev_compute_shared",
    ),
    "endpoint without tags": (
        "DBX012",
        "prod",
        lambda s: endpoint(s).pop("tags"),
        "databricks_model_serving.prod_serving_churn",
    ),
    "GPU node in the dev CPU policy": (
        "DBX013",
        "dev",
        lambda s: edit_policy(s, "policies_cpu", lambda d: d["node_type_id"]["values"].append("g5.4xlarge")),
        "databricks_cluster_policy.dev_policies_cpu",
    ),
    "GPU node on a job cluster under the CPU policy": (
        "DBX013",
        "staging",
        lambda s: job_cluster(s).update(node_type_id="g5.xlarge"),
        "databricks_job.staging_jobs_churn",
    ),
    "runtime off the allowlist": (
        "DBX013",
        "dev",
        lambda s: job_cluster(s).update(spark_version="12.2.x-scala2.12"),
        "databricks_job.dev_jobs_churn",
    ),
    "all-purpose cluster in prod": (
        "DBX014",
        "prod",
        lambda s: s.add("databricks_cluster", "adhoc", {"cluster_name": "adhoc"}),
        "databricks_cluster.prod_adhoc",
    ),
    "prod task on an existing cluster": (
        "DBX014",
        "prod",
        lambda s: job(s)["task"][0].update(existing_cluster_id="0601-abc"),
        "databricks_job.prod_jobs_churn",
    ),
    "inference tables off": (
        "DBX015",
        "prod",
        lambda s: endpoint(s)["ai_gateway"]["inference_table_config"].update(enabled=False),
        "databricks_model_serving.prod_serving_churn",
    ),
    "no rate limits": (
        "DBX015",
        "dev",
        lambda s: endpoint(s)["ai_gateway"].pop("rate_limits"),
        "databricks_model_serving.dev_serving_churn",
    ),
    "deploy task serves a workspace-registry model": (
        "DBX015",
        "staging",
        lambda s: deploy_params(s).update(endpoint_name=f"{s.env}-churn", model="churn_v2"),
        "databricks_model_serving.staging_serving_churn",
    ),
    "dev endpoint does not scale to zero": (
        "DBX015",
        "dev",
        lambda s: deploy_params(s).update(scale_to_zero="false"),
        "databricks_model_serving.dev_serving_churn",
    ),
    "endpoint nobody deploys to": (
        "DBX015",
        "dev",
        lambda s: job(s)["task"].pop(1),
        "databricks_model_serving.dev_serving_churn",
    ),
    "hand-written config serves a non-UC model": (
        "DBX015",
        "dev",
        lambda s: endpoint(s).update(
            config={
                "served_entities": [
                    {
                        "entity_name": "churn",
                        "entity_version": "1",
                        "scale_to_zero_enabled": True,
                        "workload_size": "Small",
                    }
                ]
            }
        ),
        "databricks_model_serving.dev_serving_churn",
    ),
    "prod results download on": (
        "DBX016",
        "prod",
        lambda s: conf(s).update(enableResultsDownloading="true"),
        "databricks_workspace_conf.prod_workspace_conf",
    ),
    "prod verbose audit off": (
        "DBX016",
        "prod",
        lambda s: conf(s).pop("enableVerboseAuditLogs"),
        "databricks_workspace_conf.prod_workspace_conf",
    ),
    "prod grant of MODIFY to data scientists": (
        "DBX017",
        "prod",
        lambda s: grants(s)[0]["privileges"].append("MODIFY"),
        "databricks_grants.prod_uc_catalog_grants",
    ),
    "job without timeout": (
        "DBX018",
        "dev",
        lambda s: job(s).pop("timeout_seconds"),
        "databricks_job.dev_jobs_churn",
    ),
    "job without failure notification": (
        "DBX018",
        "prod",
        lambda s: job(s).pop("email_notifications"),
        "databricks_job.prod_jobs_churn",
    ),
    "job without max_concurrent_runs": (
        "DBX018",
        "staging",
        lambda s: job(s).pop("max_concurrent_runs"),
        "databricks_job.staging_jobs_churn",
    ),
    "prod catalog without prevent_destroy": (
        "DBX019",
        "prod",
        lambda s: s.get(addr(s, "databricks_catalog", "uc_catalog")).pop("lifecycle"),
        "databricks_catalog.prod_uc_catalog",
    ),
    "prod endpoint without prevent_destroy": (
        "DBX019",
        "prod",
        lambda s: endpoint(s)["lifecycle"].pop("prevent_destroy"),
        "databricks_model_serving.prod_serving_churn",
    ),
    "prod job cluster without log delivery": (
        "DBX020",
        "prod",
        lambda s: edit_policy(s, "policies_cpu", lambda d: d.pop("cluster_log_conf.path")),
        "databricks_job.prod_jobs_churn",
    ),
    "non-LTS runtime": (
        "DBX101",
        "dev",
        lambda s: job_cluster(s).update(spark_version="16.2.x-cpu-ml-scala2.12"),
        "databricks_job.dev_jobs_churn",
    ),
    "external use schema to data scientists": (
        "DBX102",
        "dev",
        lambda s: grants(s)[0]["privileges"].append("EXTERNAL_USE_SCHEMA"),
        "databricks_grants.dev_uc_catalog_grants",
    ),
    "storage credential granted to analysts": (
        "DBX102",
        "staging",
        lambda s: s.add(
            "databricks_grants",
            "uc_cred",
            {"storage_credential": "raw", "grant": [{"principal": "analysts", "privileges": ["READ_FILES"]}]},
        ),
        "databricks_grants.staging_uc_cred",
    ),
    "job cluster as a person": (
        "DBX103",
        "dev",
        lambda s: job_cluster(s).update(single_user_name="alice@example.com"),
        "databricks_job.dev_jobs_churn",
    ),
    "job policy admits all-purpose clusters": (
        "DBX104",
        "dev",
        lambda s: edit_policy(s, "policies_cpu", lambda d: d.pop("cluster_type")),
        "databricks_cluster_policy.dev_policies_cpu",
    ),
    "metastore owned by a person": (
        "DBX105",
        "dev",
        lambda s: s.add("databricks_metastore", "metastore", {"name": "m", "owner": "admin@example.com"}),
        "databricks_metastore.dev_metastore",
    ),
    "token without lifetime": (
        "DBX106",
        "dev",
        lambda s: s.add("databricks_token", "ci", {"comment": "ci"}),
        "databricks_token.dev_ci",
    ),
    "warehouse that never stops": (
        "DBX107",
        "dev",
        lambda s: s.add(
            "databricks_sql_endpoint",
            "wh",
            {
                "name": "wh",
                "cluster_size": "2X-Small",
                "auto_stop_mins": 0,
                "tags": {
                    "custom_tags": [
                        {"key": "team", "value": "a"},
                        {"key": "cost_center", "value": "b"},
                        {"key": "env", "value": "dev"},
                    ]
                },
            },
        ),
        "databricks_sql_endpoint.dev_wh",
    ),
    "everyone may create tokens": (
        "DBX108",
        "staging",
        lambda s: s.add(
            "databricks_permissions",
            "tokens",
            {
                "authorization": "tokens",
                "access_control": [{"group_name": "users", "permission_level": "CAN_USE"}],
            },
        ),
        "databricks_permissions.staging_tokens",
    ),
    # --- issue 13: what got through the hold-out run ------------------------------------------
    "secret scope managed by every user": (
        "DBX009",
        "prod",
        lambda s: s.get(addr(s, "databricks_secret_scope", "secrets_ml")).update(
            initial_manage_principal="users"
        ),
        "databricks_secret_scope.prod_secrets_ml",
    ),
    "python file from DBFS": (
        "DBX011",
        "staging",
        lambda s: job(s)["task"][0].update(spark_python_task={"python_file": "dbfs:/jobs/train.py"}),
        "databricks_job.staging_jobs_churn",
    ),
    "notebook from DBFS": (
        "DBX011",
        "dev",
        lambda s: job(s)["task"][0].update(notebook_task={"notebook_path": "/dbfs/FileStore/train"}),
        "databricks_job.dev_jobs_churn",
    ),
    "wheel library from DBFS": (
        "DBX011",
        "prod",
        lambda s: job(s)["task"][0].update(library=[{"whl": "dbfs:/FileStore/jobs/platform.whl"}]),
        "databricks_job.prod_jobs_churn",
    ),
    "init script on DBFS behind a volumes source": (
        "DBX011",
        "dev",
        lambda s: job_cluster(s).update(init_scripts=[{"volumes": {"destination": "dbfs:/init/setup.sh"}}]),
        "databricks_job.dev_jobs_churn",
    ),
    "task nested in for_each runs code from DBFS": (
        "DBX011",
        "dev",
        lambda s: job(s)["task"].append(
            {
                "task_key": "fan_out",
                "for_each_task": {
                    "inputs": "[1, 2]",
                    "task": {"task_key": "one", "spark_python_task": {"python_file": "dbfs:/x.py"}},
                },
            }
        ),
        "databricks_job.dev_jobs_churn",
    ),
    "token in a serving endpoint's environment_vars": (
        "DBX003",
        "prod",
        lambda s: endpoint(s).update(
            config={
                "served_entities": [
                    {
                        "entity_name": "prod.ml.churn",
                        "entity_version": "1",
                        "environment_vars": {"FEATURE_STORE_TOKEN": "s3cr3t-value"},
                    }
                ]
            }
        ),
        "databricks_model_serving.prod_serving_churn",
    ),
    "policy fixes a secret env var": (
        "DBX003",
        "dev",
        lambda s: edit_policy(
            s,
            "policies_cpu",
            lambda d: d.update(
                {"spark_env_vars.AWS_SECRET_ACCESS_KEY": {"type": "fixed", "value": "wJalrX"}}
            ),
        ),
        "databricks_cluster_policy.dev_policies_cpu",
    ),
    "policy fixes spark conf with a key": (
        "DBX003",
        "staging",
        lambda s: edit_policy(
            s,
            "policies_gpu",
            lambda d: d.update({"spark_conf.spark.api.key": {"type": "unlimited", "defaultValue": "k-123"}}),
        ),
        "databricks_cluster_policy.staging_policies_gpu",
    ),
    "Azure storage account key in spark conf": (
        "DBX003",
        "prod",
        lambda s: job_cluster(s).update(
            spark_conf={"fs.azure.account.key.lake.dfs.core.windows.net": "bXlrZXk9PQ=="}
        ),
        "databricks_job.prod_jobs_churn",
    ),
    "package index URL with credentials": (
        "DBX003",
        "dev",
        lambda s: job(s)["task"][0].update(
            library=[{"pypi": {"package": "acme-ml", "repo": "https://ci:hunter2@pypi.acme.example/simple"}}]
        ),
        "databricks_job.dev_jobs_churn",
    ),
    "token in spark_submit_task parameters": (
        "DBX003",
        "staging",
        lambda s: job(s)["task"][0].update(
            spark_submit_task={"parameters": ["--class", "Main", "--conf", "spark.token=abc", "app.jar"]}
        ),
        "databricks_job.staging_jobs_churn",
    ),
    "webhook URL with a token in a job parameter": (
        "DBX003",
        "dev",
        lambda s: job(s)["task"][0]["python_wheel_task"]["named_parameters"].update(
            alert_url="https://alerts.acme.example/hook?token=0a1b2c3d"
        ),
        "databricks_job.dev_jobs_churn",
    ),
    "prod catalog readable by all account users": (
        "DBX002",
        "prod",
        lambda s: grants(s).append({"principal": "account users", "privileges": ["USE_CATALOG", "SELECT"]}),
        "databricks_grants.prod_uc_catalog_grants",
    ),
    "prod schema usable by users": (
        "DBX002",
        "prod",
        lambda s: s.get(addr(s, "databricks_grants", "uc_ml_grants"))["grant"].append(
            {"principal": "users", "privileges": ["USE_SCHEMA"]}
        ),
        "databricks_grants.prod_uc_ml_grants",
    ),
    "data scientists may create clusters": (
        "DBX109",
        "dev",
        lambda s: s.add(
            "databricks_entitlements",
            "rbac_ds_entitlements",
            {"group_id": ref(addr(s, "databricks_group", "rbac_ds")), "allow_cluster_create": True},
        ),
        "databricks_entitlements.dev_rbac_ds_entitlements",
    ),
    "a group created with instance pool rights": (
        "DBX109",
        "staging",
        lambda s: s.get(addr(s, "databricks_group", "rbac_ds")).update(allow_instance_pool_create=True),
        "databricks_group.staging_rbac_ds",
    ),
    "data scientists use the prod GPU policy": (
        "DBX017",
        "prod",
        lambda s: s.add(
            "databricks_permissions",
            "policies_gpu_permissions",
            {
                "cluster_policy_id": ref(addr(s, "databricks_cluster_policy", "policies_gpu")),
                "access_control": [
                    {
                        "group_name": ref(addr(s, "databricks_group", "rbac_ds"), "display_name"),
                        "permission_level": "CAN_USE",
                    }
                ],
            },
        ),
        "databricks_permissions.prod_policies_gpu_permissions",
    ),
    "prod inference on spot only": (
        "DBX110",
        "prod",
        lambda s: (
            s.get(addr(s, "databricks_cluster_policy", "policies_cpu")).update(name="prod-inference"),
            job_cluster(s).update(aws_attributes={"availability": "SPOT", "first_on_demand": 0}),
        ),
        "databricks_job.prod_jobs_churn",
    ),
    "prod inference policy without on-demand capacity": (
        "DBX112",
        "prod",
        # The builder's CPU policy pins spot with fallback: renamed to inference, prod scoring would use it.
        lambda s: s.get(addr(s, "databricks_cluster_policy", "policies_cpu")).update(name="prod-inference"),
        "databricks_cluster_policy.prod_policies_cpu",
    ),
    "training policy on on-demand capacity": (
        "DBX113",
        "dev",
        lambda s: edit_policy(
            s,
            "policies_cpu",
            lambda d: d.update({"aws_attributes.availability": {"type": "fixed", "value": "ON_DEMAND"}}),
        ),
        "databricks_cluster_policy.dev_policies_cpu",
    ),
    "training cluster with its driver on spot": (
        "DBX113",
        "staging",
        lambda s: job_cluster(s).update(
            aws_attributes={"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 0}
        ),
        "databricks_job.staging_jobs_churn",
    ),
    "oversized SQL warehouse": (
        "DBX114",
        "dev",
        lambda s: s.get(addr(s, "databricks_sql_endpoint", "fleet_warehouse")).update(
            cluster_size="4X-Large"
        ),
        "databricks_sql_endpoint.dev_fleet_warehouse",
    ),
    "warehouse that leaves serverless to the workspace default": (
        "DBX114",
        "staging",
        lambda s: s.get(addr(s, "databricks_sql_endpoint", "fleet_warehouse")).pop(
            "enable_serverless_compute"
        ),
        "databricks_sql_endpoint.staging_fleet_warehouse",
    ),
    "dashboard with embedded credentials": (
        "DBX115",
        "prod",
        lambda s: s.get(addr(s, "databricks_dashboard", "fleet_dashboard")).update(embed_credentials=True),
        "databricks_dashboard.prod_fleet_dashboard",
    ),
    "dashboard under /Shared": (
        "DBX115",
        "dev",
        lambda s: s.get(addr(s, "databricks_dashboard", "fleet_dashboard")).update(
            parent_path="/Shared/fleet"
        ),
        "databricks_dashboard.dev_fleet_dashboard",
    ),
    "alert that runs as a person and notifies nobody": (
        "DBX116",
        "prod",
        lambda s: s.get(addr(s, "databricks_alert_v2", "fleet_alert")).update(
            run_as={"user_name": "someone@example.com"},
            evaluation={"source": {"name": "n"}, "comparison_operator": "GREATER_THAN"},
        ),
        "databricks_alert_v2.prod_fleet_alert",
    ),
    "webhook URL written in code": (
        "DBX117",
        "dev",
        lambda s: s.get(addr(s, "databricks_notification_destination", "notify_oncall")).update(
            config={"generic_webhook": {"url": "https://hooks.example.com/platform"}}
        ),
        "databricks_notification_destination.dev_notify_oncall",
    ),
    "scheduled job without a duration warning": (
        "DBX118",
        "dev",
        lambda s: s.get(addr(s, "databricks_job", "jobs_inventory")).pop("health"),
        "databricks_job.dev_jobs_inventory",
    ),
    "prod job without a failure webhook": (
        "DBX118",
        "prod",
        lambda s: s.get(addr(s, "databricks_job", "jobs_inventory")).pop("webhook_notifications"),
        "databricks_job.prod_jobs_inventory",
    ),
    "job webhook to a destination the stack does not manage": (
        "DBX118",
        "staging",
        lambda s: s.get(addr(s, "databricks_job", "jobs_inventory")).update(
            webhook_notifications={"on_failure": [{"id": "0c7a-unmanaged"}]}
        ),
        "databricks_job.staging_jobs_inventory",
    ),
    "feature table without a NOT NULL timestamp key": (
        "DBX119",
        "prod",
        lambda s: s.get(addr(s, "databricks_sql_table", "features_customer"))["column"][1].update(
            nullable=True
        ),
        "databricks_sql_table.prod_features_customer",
    ),
    "feature table clustered on a column it lacks": (
        "DBX119",
        "dev",
        lambda s: s.get(addr(s, "databricks_sql_table", "features_customer")).update(cluster_keys=["region"]),
        "databricks_sql_table.dev_features_customer",
    ),
    "GPU job every minute": (
        "DBX111",
        "dev",
        lambda s: (
            job_cluster(s).update(
                policy_id=ref(addr(s, "databricks_cluster_policy", "policies_gpu")),
                node_type_id="g5.xlarge",
                spark_version="16.4.x-gpu-ml-scala2.12",
            ),
            job(s).update(schedule={"quartz_cron_expression": "0 * * * * ?", "timezone_id": "UTC"}),
        ),
        "databricks_job.dev_jobs_churn",
    ),
}


@pytest.mark.parametrize("env", ENVS)
def test_shipped_conventions_pass_every_rule(run: Callable[..., Report], env: str) -> None:
    report = run(platform(env))
    assert [f"{f.rule.id} {f.address}: {f.message}" for f in report.findings] == []


def test_every_rule_has_a_failing_case(policies) -> None:
    from tests.guardrails.test_account_rules import WEAKENED as ACCOUNT_WEAKENED

    covered = {rule for rule, *_ in WEAKENED.values()} | {rule for rule, *_ in ACCOUNT_WEAKENED.values()}
    assert sorted(set(policies.rules) - covered) == []


@pytest.mark.parametrize("case", sorted(WEAKENED))
def test_fails_weakened_stack(run: Callable[..., Report], case: str) -> None:
    rule_id, env, weaken, address = WEAKENED[case]
    stack = platform(env)
    weaken(stack)
    report = run(stack)
    hits = [f for f in report.findings if f.rule.id == rule_id]
    assert hits, f"{rule_id} missed '{case}'; got {[f.rule.id + ' ' + f.message for f in report.findings]}"
    assert address in {f.address for f in hits}
    assert report.exit_code() == 1


def test_passes_cluster_that_inherits_access_mode_from_its_policy(run: Callable[..., Report]) -> None:
    stack = platform("dev")
    job_cluster(stack).pop("data_security_mode")
    assert not [f for f in run(stack).findings if f.rule.id == "DBX001"]


def test_passes_gpu_nodes_under_the_gpu_policy(run: Callable[..., Report]) -> None:
    stack = platform("staging")
    gpu = addr(stack, "databricks_cluster_policy", "policies_gpu")
    job_cluster(stack).update(
        policy_id=ref(gpu), node_type_id="g5.xlarge", spark_version="16.4.x-gpu-ml-scala2.12"
    )
    assert not [f for f in run(stack).findings if f.rule.id == "DBX013"]


def test_passes_prod_endpoint_that_keeps_warm_capacity(run: Callable[..., Report]) -> None:
    stack = platform("prod")
    assert deploy_params(stack)["scale_to_zero"] == "false"
    assert not run(stack).findings


def test_passes_dev_job_without_run_as(run: Callable[..., Report]) -> None:
    stack = platform("dev")
    job(stack).pop("run_as")
    assert not [f for f in run(stack).findings if f.rule.id == "DBX008"]


def test_passes_data_scientists_writing_in_dev_but_not_prod(run: Callable[..., Report]) -> None:
    assert "MODIFY" in grants(platform("dev"))[0]["privileges"]
    assert not run(platform("dev")).findings


def test_passes_blocks_written_as_lists_or_objects(run: Callable[..., Report]) -> None:
    stack = platform("prod")
    job(stack)["job_cluster"] = job(stack)["job_cluster"][0]  # cdktf writes a single block as an object
    job(stack)["run_as"] = [job(stack)["run_as"]]
    assert not run(stack).findings
    job(stack)["job_cluster"]["new_cluster"]["data_security_mode"] = "LEGACY_SINGLE_USER"
    assert {f.rule.id for f in run(stack).findings} == {"DBX001"}


def test_fails_secret_in_list_parameters(run: Callable[..., Report]) -> None:
    stack = platform("dev")
    job(stack)["task"][0]["spark_python_task"] = {
        "python_file": "x.py",
        "parameters": ["--api-key", "abc123", "--token=xyz"],
    }
    messages = [f.message for f in run(stack).findings if f.rule.id == "DBX003"]
    assert len(messages) == 2, messages


def test_passes_deploy_task_that_names_its_endpoint_and_a_uc_model(run: Callable[..., Report]) -> None:
    stack = platform("staging")
    deploy_params(stack).update(
        endpoint_name=ref(addr(stack, "databricks_model_serving", "serving_churn"), "name"),
        model="staging.ml.churn",
    )
    endpoint(stack)["tags"] = [t for t in endpoint(stack)["tags"] if t["key"] != "model"]
    assert not run(stack).findings


def test_fails_when_the_deploy_task_serves_another_model(run: Callable[..., Report]) -> None:
    stack = platform("dev")
    deploy_params(stack).update(model="fraud")
    assert [f.rule.id for f in run(stack).findings] == ["DBX015"]


def test_passes_secret_readers_allowed_per_environment(run: Callable[..., Report]) -> None:
    for env, allowed in (("dev", True), ("prod", False)):
        stack = platform(env)
        stack.add(
            "databricks_secret_acl",
            "secrets_mle",
            {"scope": "ml", "principal": "ml-engineers", "permission": "READ"},
        )
        assert bool([f for f in run(stack).findings if f.rule.id == "DBX009"]) is not allowed


def test_passes_secret_named_settings_that_hold_no_secret(run: Callable[..., Report]) -> None:
    stack = platform("dev")
    job_cluster(stack)["spark_env_vars"].update(
        TOKEN_TTL_SECONDS="3600",
        SECRET_SCOPE=ref(addr(stack, "databricks_secret_scope", "secrets_ml"), "name"),
    )
    assert not run(stack).findings
