"""Names and tags: one place decides what things are called and how they are labelled."""

from __future__ import annotations

from collections.abc import Mapping

FEATURES_SCHEMA = "features"
INFERENCE_SCHEMA = "inference_logs"
MONITORING_SCHEMA = "monitoring"
MODELS_SCHEMA = "models"
PLATFORM_SCHEMAS = (FEATURES_SCHEMA, INFERENCE_SCHEMA, MONITORING_SCHEMA, MODELS_SCHEMA)
"""The schemas the platform creates in each environment's catalog, and the only ones it uses: the
stacks create and grant them, the jobs read and write their tables there."""

STAGE_FOLDERS: Mapping[str, str] = {"dev": "Development", "staging": "Staging", "prod": "Production"}
WHEEL_PACKAGE = "dbx_mlops_platform"
"""Distribution name of the wheel the jobs run (python_wheel_task.package_name)."""


PLATFORM_FOLDER = "/mlops"
"""Top-level workspace folder: only workspace admins create there, and unlike /Shared (where all users
hold CAN_MANAGE) its ACLs mean something (terraform-provider-databricks docs/resources/permissions.md)."""
EXPERIMENTS_FOLDER = "experiments"


def folder_path(env: str) -> str:
    return f"{PLATFORM_FOLDER}/{STAGE_FOLDERS[env]}"


def experiments_folder(env: str) -> str:
    return f"{folder_path(env)}/{EXPERIMENTS_FOLDER}"


def experiment_path(env: str, model: str) -> str:
    return f"{experiments_folder(env)}/{model}"


def storage_credential_name(env: str) -> str:
    """The storage credential of an environment's catalog (created by the account stack)."""
    return f"mlops-{env}-catalog"


def external_location_name(env: str) -> str:
    return f"mlops-{env}-catalog"


def job_name(env: str, model: str, purpose: str) -> str:
    """``[prod] marketing_churn_gbm: train``; the monitor finds the retraining job by this name."""
    return f"[{env}] {model}: {purpose}"


def endpoint_name(env: str, model: str) -> str:
    # Endpoint names allow letters, digits, dashes and underscores, up to 63 characters.
    return f"{model.replace('_', '-')}-{env}"[:63]


def secret_ref(scope: str, key: str) -> str:
    """A secret reference resolved by Databricks at cluster start; the value never enters Terraform."""
    return "{{secrets/" + scope + "/" + key + "}}"


def volume_path(catalog: str, schema: str, volume: str, *parts: str) -> str:
    return "/".join(("/Volumes", catalog, schema, volume, *parts))


def platform_tags(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """Sorted tags so synthesized JSON is stable; ``managed_by`` lets a reviewer tell code from clicks."""
    tags = {**base, "managed_by": "mlops-platform", **extra}
    return dict(sorted(tags.items()))


def local_state_path(stack: str) -> str:
    """Local state in the project root, not in ``cdktf.out``.

    Terraform runs in ``cdktf.out/stacks/<stack>/`` and every synth replaces ``cdktf.out``: a state
    file kept there would be deleted by the next ``make synth``.
    """
    return f"../../../terraform.{stack}.tfstate"


# --- the fleet: one inventory job, warehouse, dashboard and alerts per environment ---------------
FLEET = "fleet"
INVENTORY_TABLE = "model_inventory"
FLEET_METRICS_TABLE = "fleet_metrics"
FLEET_DECISIONS_TABLE = "fleet_retrain_decisions"
FLEET_TABLES = (INVENTORY_TABLE, FLEET_METRICS_TABLE, FLEET_DECISIONS_TABLE)
"""Tables of the monitoring schema the inventory job rewrites daily, one row set for every model: the
dashboard and the SQL alerts read these, so they work before every model's own tables exist."""


def fleet_job_name(env: str, purpose: str) -> str:
    """``[prod] fleet: inventory``: an environment's own jobs, beside the per-model ones."""
    return job_name(env, FLEET, purpose)


def warehouse_name(env: str) -> str:
    return f"mlops-{env}"


def dashboard_name(env: str) -> str:
    return f"[{env}] Model fleet"


def alert_name(env: str, kind: str) -> str:
    return f"[{env}] fleet: {kind.replace('_', ' ')}"


def fleet_folder(env: str) -> str:
    """Dashboards and alerts live beside the experiments, in the platform folder (not /Shared)."""
    return f"{folder_path(env)}/{FLEET}"


# --- feature tables: one feature job per update schedule, per environment -------------------------
FEATURE_JOBS = "features"


def feature_job_name(env: str, schedule: str, timezone: str) -> str:
    """``[prod] features: 0 0 1 * * ? UTC``: the feature job refreshing every table on that schedule."""
    return job_name(env, FEATURE_JOBS, f"{schedule} {timezone}")
