"""Small builders for hand-written cdk.tf.json documents that follow the platform's conventions.

``platform(env)`` returns a stack that passes every rule; tests weaken one thing and expect the
right rule to catch it. Logical ids look like cdktf's (``dev_policies_cpu``), construct paths too.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from infra.guardrails import Policies, Report, evaluate
from infra.tfdoc import resources_from_doc
from tests.conftest import Docs

TODAY = date(2026, 6, 1)  # waiver expiry is judged against this in tests
SP_APP_ID = "9f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
TAGS = {"team": "mlops", "cost_center": "cc-42"}


def evaluate_docs(docs: Docs, policies: Policies) -> Report:
    """The guardrails over parsed documents by stack name, each read as ``<name>/cdk.tf.json``."""
    resources = [r for env, doc in docs.items() for r in resources_from_doc(doc, env, f"{env}/cdk.tf.json")]
    return evaluate(resources, policies)


class Stack:
    def __init__(self, env: str) -> None:
        self.env = env
        self.doc: dict[str, Any] = {"terraform": {"required_providers": {}}, "resource": {}}

    def add(
        self, rtype: str, name: str, body: dict[str, Any], lifecycle: dict[str, Any] | None = None
    ) -> str:
        """Add a resource; returns its address (``type.logical_id``)."""
        logical = f"{self.env}_{name}"
        full = {**body, "//": {"metadata": {"path": f"{self.env}/{name.replace('_', '/')}/Resource"}}}
        if lifecycle:
            full["lifecycle"] = lifecycle
        self.doc["resource"].setdefault(rtype, {})[logical] = full
        return f"{rtype}.{logical}"

    def get(self, address: str) -> dict[str, Any]:
        rtype, logical = address.split(".", 1)
        return self.doc["resource"][rtype][logical]

    def remove(self, address: str) -> None:
        rtype, logical = address.split(".", 1)
        del self.doc["resource"][rtype][logical]

    def write(self, root: Path) -> Path:
        path = root / "cdktf.out" / "stacks" / self.env / "cdk.tf.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.doc, indent=2))
        return path

    def copy(self) -> Stack:
        other = Stack(self.env)
        other.doc = copy.deepcopy(self.doc)
        return other


def ref(address: str, attr: str = "id") -> str:
    return "${" + address + "." + attr + "}"


def policy_definition(env: str, *, gpu: bool = False, interactive: bool = False) -> dict[str, Any]:
    nodes = ["g5.xlarge", "g5.2xlarge"] if gpu else ["m5d.large", "m5d.xlarge"]
    runtime = "16.4.x-gpu-ml-scala2.12" if gpu else "16.4.x-cpu-ml-scala2.12"
    definition: dict[str, Any] = {
        "spark_version": {"type": "fixed", "value": runtime},
        "node_type_id": {"type": "allowlist", "values": nodes, "defaultValue": nodes[0]},
        "driver_node_type_id": {"type": "allowlist", "values": nodes, "defaultValue": nodes[0]},
        "data_security_mode": {"type": "fixed", "value": "SINGLE_USER"},
        "dbus_per_hour": {"type": "range", "maxValue": 10},
        "autoscale.max_workers": {"type": "range", "maxValue": 4, "defaultValue": 2},
        "custom_tags.team": {"type": "fixed", "value": TAGS["team"]},
        "custom_tags.cost_center": {"type": "fixed", "value": TAGS["cost_center"]},
        "custom_tags.env": {"type": "fixed", "value": env},
        "cluster_log_conf.type": {"type": "fixed", "value": "VOLUMES"},
        "cluster_log_conf.path": {"type": "fixed", "value": f"/Volumes/{env}/ops/logs"},
    }
    if interactive:
        definition["autotermination_minutes"] = {"type": "fixed", "value": 20, "hidden": True}
        definition["cluster_type"] = {"type": "fixed", "value": "all-purpose"}
    else:
        definition["cluster_type"] = {"type": "fixed", "value": "job"}
        # Training runs on spot with fallback behind an on-demand driver (DBX113).
        definition["aws_attributes.availability"] = {"type": "fixed", "value": "SPOT_WITH_FALLBACK"}
        definition["aws_attributes.first_on_demand"] = {"type": "fixed", "value": 1}
    return definition


def job_body(env: str, policy: str, sp: str, endpoint: str | None = None) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [
        {
            "task_key": "train",
            "job_cluster_key": "main",
            "python_wheel_task": {
                "package_name": "dbx_mlops",
                "entry_point": "train",
                "named_parameters": {"env": env, "db_password": "{{secrets/ml/db}}"},
            },
        }
    ]
    if endpoint:
        tasks.append(
            {
                "task_key": "deploy",
                "job_cluster_key": "main",
                "depends_on": [{"task_key": "train"}],
                "python_wheel_task": {
                    "package_name": "dbx_mlops",
                    "entry_point": "deploy",
                    "named_parameters": {
                        "model": "churn",
                        "scale_to_zero": "false" if env == "prod" else "true",
                        "workload_size": "Small",
                    },
                },
            }
        )
    return {
        "name": f"{env}-churn-training",
        "timeout_seconds": 7200,
        "max_concurrent_runs": 1,
        "email_notifications": {"on_failure": ["mlops@example.com"]},
        "tags": {**TAGS, "env": env},
        "run_as": {"service_principal_name": ref(sp, "application_id")},
        "job_cluster": [
            {
                "job_cluster_key": "main",
                "new_cluster": {
                    "policy_id": ref(policy),
                    "apply_policy_default_values": True,
                    "spark_version": "16.4.x-cpu-ml-scala2.12",
                    "node_type_id": "m5d.xlarge",
                    "autoscale": {"min_workers": 1, "max_workers": 2},
                    "data_security_mode": "SINGLE_USER",
                    "spark_env_vars": {
                        "MLFLOW_TRACKING_URI": "databricks",
                        "API_TOKEN": "{{secrets/ml/api}}",
                    },
                    "init_scripts": [{"volumes": {"destination": f"/Volumes/{env}/ops/init/setup.sh"}}],
                },
            }
        ],
        "task": tasks,
    }


def platform(env: str) -> Stack:
    """A compliant stack for ``env`` (dev, staging or prod)."""
    s = Stack(env)
    prod = env == "prod"
    keep = {"prevent_destroy": True} if prod else None
    mlops = s.add("databricks_group", "rbac_mlops", {"display_name": "mlops-engineers"})
    ds = s.add("databricks_group", "rbac_ds", {"display_name": "data-scientists"})
    sp = s.add(
        "databricks_service_principal",
        "rbac_runner",
        {"display_name": f"{env}-job-runner", "application_id": SP_APP_ID},
    )
    cpu = s.add(
        "databricks_cluster_policy",
        "policies_cpu",
        {"name": f"{env}-cpu-training", "definition": json.dumps(policy_definition(env))},
    )
    s.add(
        "databricks_cluster_policy",
        "policies_gpu",
        {"name": f"{env}-gpu-training", "definition": json.dumps(policy_definition(env, gpu=True))},
    )
    catalog = s.add(
        "databricks_catalog", "uc_catalog", {"name": env, "owner": ref(mlops, "display_name")}, keep
    )
    schema = s.add("databricks_schema", "uc_ml", {"catalog_name": ref(catalog, "name"), "name": "ml"}, keep)
    s.add(
        "databricks_registered_model",
        "uc_churn",
        {"catalog_name": env, "schema_name": "ml", "name": "churn"},
        keep,
    )
    ds_privileges = (
        ["USE_CATALOG", "USE_SCHEMA", "SELECT"] if prod else ["USE_CATALOG", "USE_SCHEMA", "SELECT", "MODIFY"]
    )
    s.add(
        "databricks_grants",
        "uc_catalog_grants",
        {
            "catalog": ref(catalog, "name"),
            "grant": [
                {"principal": ref(ds, "display_name"), "privileges": ds_privileges},
                {"principal": ref(mlops, "display_name"), "privileges": ["ALL_PRIVILEGES"]},
                {
                    "principal": ref(sp, "application_id"),
                    "privileges": ["USE_CATALOG", "USE_SCHEMA", "SELECT", "MODIFY"],
                },
            ],
        },
    )
    s.add(
        "databricks_grants",
        "uc_ml_grants",
        {
            "schema": ref(schema, "id"),
            "grant": [{"principal": ref(ds, "display_name"), "privileges": ["USE_SCHEMA"]}],
        },
    )
    scope = s.add("databricks_secret_scope", "secrets_ml", {"name": "ml"})
    s.add(
        "databricks_secret_acl",
        "secrets_ml_manage",
        {"scope": ref(scope, "name"), "principal": ref(mlops, "display_name"), "permission": "MANAGE"},
    )
    s.add(
        "databricks_secret_acl",
        "secrets_ml_read",
        {"scope": ref(scope, "name"), "principal": ref(sp, "application_id"), "permission": "READ"},
    )
    conf = {
        "enableTokensConfig": "true",
        "maxTokenLifetimeDays": "90",
        "enableIpAccessLists": "true" if prod else "false",
        "enableResultsDownloading": "false",
        "enableNotebookTableClipboard": "false",
        "enableExportNotebook": "false",
        "enableDbfsFileBrowser": "false",
        "enableDeprecatedGlobalInitScripts": "false",
        "enableVerboseAuditLogs": "true",
        "enforceUserIsolation": "true",
    }
    s.add("databricks_workspace_conf", "workspace_conf", {"custom_config": conf})
    if prod:
        s.add(
            "databricks_ip_access_list",
            "workspace_allow",
            {"label": "corp", "list_type": "ALLOW", "ip_addresses": ["203.0.113.0/24"]},
        )
    endpoint = s.add(
        "databricks_model_serving",
        "serving_churn",
        {
            "name": f"{env}-churn",
            "ai_gateway": {
                "inference_table_config": {
                    "enabled": True,
                    "catalog_name": env,
                    "schema_name": "ml",
                    "table_name_prefix": "churn",
                },
                "rate_limits": [{"calls": 100, "key": "endpoint", "renewal_period": "minute"}],
            },
            "tags": [
                {"key": "team", "value": TAGS["team"]},
                {"key": "cost_center", "value": TAGS["cost_center"]},
                {"key": "env", "value": env},
                {"key": "model", "value": "churn"},
            ],
        },
        keep,
    )
    s.get(endpoint)["lifecycle"] = {**(keep or {}), "ignore_changes": ["config"]}
    job = s.add("databricks_job", "jobs_churn", job_body(env, cpu, sp, endpoint))
    s.add(
        "databricks_permissions",
        "jobs_churn_permissions",
        {
            "job_id": ref(job),
            "access_control": [
                {"group_name": ref(mlops, "display_name"), "permission_level": "CAN_MANAGE"},
                {"group_name": ref(ds, "display_name"), "permission_level": "CAN_VIEW"},
            ],
        },
    )
    if not prod:
        interactive = s.add(
            "databricks_cluster_policy",
            "policies_interactive",
            {
                "name": f"{env}-interactive",
                "definition": json.dumps(policy_definition(env, interactive=True)),
            },
        )
        s.add(
            "databricks_permissions",
            "policies_interactive_permissions",
            {
                "cluster_policy_id": ref(interactive),
                "access_control": [{"group_name": ref(ds, "display_name"), "permission_level": "CAN_USE"}],
            },
        )
        s.add(
            "databricks_cluster",
            "compute_shared",
            {
                "cluster_name": f"{env}-shared",
                "policy_id": ref(interactive),
                "apply_policy_default_values": True,
                "spark_version": "16.4.x-cpu-ml-scala2.12",
                "node_type_id": "m5d.large",
                "num_workers": 1,
                "autotermination_minutes": 20,
                "data_security_mode": "USER_ISOLATION",
                "custom_tags": {**TAGS, "env": env},
            },
        )
    fleet(s, env, sp, job)
    return s


def fleet(s: Stack, env: str, sp: str, job: str) -> None:
    """The fleet pieces: a destination read from a variable, a warehouse, a dashboard, an alert, and a
    scheduled job (a copy of ``job``) with a health rule and a webhook."""
    dest = s.add(
        "databricks_notification_destination",
        "notify_oncall",
        {"display_name": "oncall", "config": {"slack": {"url": '${var.notification_urls["oncall"]}'}}},
    )
    warehouse = s.add(
        "databricks_sql_endpoint",
        "fleet_warehouse",
        {
            "name": f"mlops-{env}",
            "cluster_size": "2X-Small",
            "max_num_clusters": 1,
            "auto_stop_mins": 10,
            "enable_serverless_compute": True,
            "tags": {"custom_tags": [{"key": k, "value": v} for k, v in {**TAGS, "env": env}.items()]},
        },
    )
    s.add(
        "databricks_dashboard",
        "fleet_dashboard",
        {
            "display_name": f"[{env}] fleet",
            "warehouse_id": ref(warehouse),
            "parent_path": f"/mlops/{env}/fleet",
            "serialized_dashboard": "{}",
            "embed_credentials": False,
        },
    )
    s.add(
        "databricks_alert_v2",
        "fleet_alert",
        {
            "display_name": f"[{env}] drift",
            "query_text": "SELECT 1 AS n",
            "warehouse_id": ref(warehouse),
            "evaluation": {
                "source": {"name": "n"},
                "comparison_operator": "GREATER_THAN",
                "notification": {"subscriptions": [{"destination_id": ref(dest)}]},
            },
            "schedule": {"quartz_cron_schedule": "0 0 8 * * ?", "timezone_id": "UTC"},
            "run_as": {"service_principal_name": ref(sp, "application_id")},
        },
    )
    inventory = copy.deepcopy(s.get(job))
    inventory["name"] = f"{env}-fleet-inventory"
    inventory["task"] = inventory["task"][:1]
    inventory["schedule"] = {"quartz_cron_expression": "0 0 7 * * ?", "timezone_id": "UTC"}
    inventory["health"] = {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 1800}]}
    inventory["webhook_notifications"] = {"on_failure": [{"id": ref(dest)}]}
    inventory_job = s.add("databricks_job", "jobs_inventory", inventory)
    permissions = copy.deepcopy(s.get(f"databricks_permissions.{s.env}_jobs_churn_permissions"))
    permissions["job_id"] = ref(inventory_job)
    s.add("databricks_permissions", "jobs_inventory_permissions", permissions)
    s.add(
        "databricks_sql_table",
        "features_customer",
        {
            "catalog_name": f"mlops_{env}",
            "schema_name": "features",
            "name": "customer_features",
            "table_type": "MANAGED",
            "data_source_format": "DELTA",
            "column": [
                {"name": "customer_id", "type": "STRING", "nullable": False},
                {"name": "event_ts", "type": "TIMESTAMP", "nullable": False},
                {"name": "tenure_months", "type": "DOUBLE", "nullable": True},
            ],
            "cluster_keys": ["customer_id", "event_ts"],
        },
    )


ACCOUNT_ID = "00000000-0000-0000-0000-000000000000"


def account(envs: tuple[str, ...] = ("dev", "staging", "prod")) -> Stack:
    """A compliant account stack shaped like the synthesized one: groups, per-env service principals,
    one metastore owned by the admin group, a workspace per env (prod private and undeletable), each
    assigned the metastore, and identity assignments that depend on that assignment."""
    s = Stack("account")
    admins = s.add("databricks_group", "identities_group_mlops", {"display_name": "mlops-engineers"})
    ds = s.add("databricks_group", "identities_group_ds", {"display_name": "data-scientists"})
    metastore = s.add(
        "databricks_metastore",
        "metastore",
        {
            "name": "mlops-eu-west-1",
            "region": "eu-west-1",
            "owner": ref(admins, "display_name"),
            "force_destroy": False,
        },
        {"prevent_destroy": True},
    )
    for env in envs:
        prod = env == "prod"
        body: dict[str, Any] = {
            "account_id": ACCOUNT_ID,
            "workspace_name": f"mlops-{env}",
            "deployment_name": f"mlops-{env}",
            "aws_region": "eu-west-1",
            "custom_tags": {**TAGS, "env": env},
        }
        if prod:
            settings = s.add(
                "databricks_mws_private_access_settings",
                f"workspace_{env}_private",
                {
                    "account_id": ACCOUNT_ID,
                    "private_access_settings_name": f"mlops-{env}-private-access",
                    "region": "eu-west-1",
                    "public_access_enabled": False,
                    "private_access_level": "ENDPOINT",
                },
            )
            body["private_access_settings_id"] = ref(settings, "private_access_settings_id")
        workspace = s.add(
            "databricks_mws_workspaces", f"workspace_{env}", body, {"prevent_destroy": True} if prod else None
        )
        assignment = s.add(
            "databricks_metastore_assignment",
            f"metastore_assign_{env}",
            {"metastore_id": ref(metastore), "workspace_id": ref(workspace, "workspace_id")},
        )
        deployer = s.add(
            "databricks_service_principal",
            f"identities_sp_deployer_{env}",
            {"display_name": f"sp-deployer-{env}"},
        )
        for name, principal, level in (
            ("mlops", admins, "ADMIN"),
            ("ds", ds, "USER"),
            ("sp", deployer, "ADMIN"),
        ):
            s.add(
                "databricks_mws_permission_assignment",
                f"identities_assign_{env}_{name}",
                {
                    "workspace_id": ref(workspace, "workspace_id"),
                    "principal_id": ref(principal),
                    "permissions": [level],
                    "depends_on": [assignment],
                },
            )
    return s
