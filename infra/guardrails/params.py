"""What the rules compare against, per environment (``policies/guardrails/params.yaml``), and floors.

Kept apart from the loaders so that the rules import their parameters without importing the
loader that imports them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from mlops_spec.config.base import Spec


class DeployTask(Spec):
    """How a job task that deploys a model to a serving endpoint is recognised and read."""

    entry_points: list[str] = Field(description="python_wheel_task entry points that deploy a model.")
    endpoint_param: str | None = Field(
        description="Named parameter holding the endpoint name (or a reference)."
    )
    endpoint_tag: str | None = Field(
        description="Endpoint tag whose value equals the task's model parameter: links the two when the task "
        "does not name the endpoint."
    )
    model_param: str = Field(
        description="Named parameter holding the model: catalog.schema.model or a registered model's name."
    )
    scale_to_zero_param: str = Field(description="Named parameter holding scale-to-zero (true/false).")


class EnvParams(Spec):
    """Everything the rules compare against, for one environment (defaults merged with overrides)."""

    required_tags: list[str]
    env_tag: str | None = Field(description="Tag that must equal the environment name; null = not checked.")
    platform_group: str
    secret_read_groups: list[str] = Field(
        description="Groups that may hold READ on secret scopes (besides SPs)."
    )
    data_scientists_group: str
    admin_groups: list[str] = Field(description="Groups that may hold privileged metastore/storage grants.")
    allowed_access_modes: list[str]
    cpu_node_types: list[str]
    gpu_node_types: list[str]
    runtimes: list[str] = Field(description="Explicitly allowed spark_version values.")
    runtime_pattern: str | None = Field(description="Regex for further allowed spark_version values.")
    lts_runtimes: list[str] = Field(description="LTS major.minor versions (e.g. 15.4) or auto:latest-lts*.")
    gpu_policy_name_pattern: str
    max_autotermination_minutes: int = Field(gt=0)
    max_dbus_per_hour: float = Field(gt=0)
    max_workers: int = Field(gt=0)
    max_token_lifetime_days: int = Field(gt=0)
    workspace_settings: dict[str, bool] = Field(description="SRA custom_config keys and required values.")
    job_max_timeout_seconds: int = Field(gt=0)
    job_max_concurrent_runs: int = Field(gt=0)
    require_scale_to_zero: bool
    deploy_task: DeployTask
    protected_types: list[str]
    secret_key_pattern: str = Field(description="Regex of conf/env/parameter names that hold secrets.")
    secret_value_patterns: list[str] = Field(description="Regexes of well-known credential formats.")
    read_privileges: list[str] = Field(description="UC privileges data scientists may hold in prod.")
    privileged_privileges: list[str] = Field(description="UC privileges reserved for admin_groups.")
    max_sql_auto_stop_mins: int = Field(gt=0)
    prod_workspace_envs: list[str] = Field(
        description="Production environments: private, undeletable workspaces; the stricter prod rules."
    )
    max_waiver_days: int = Field(gt=0, description="A waiver may expire at most this many days ahead.")
    gpu_job_min_interval_minutes: int = Field(
        gt=0, description="Scheduled GPU jobs may fire at most once per this many minutes."
    )
    inference_policy_name_pattern: str = Field(
        description="Regex of the policy names whose clusters serve prod inference (no spot-only capacity)."
    )
    spot_policy_name_pattern: str | None = Field(
        None,
        description="Regex of the policy names whose clusters run on spot with fallback behind on-demand "
        "first nodes (DBX113: training and batch); null = not required.",
    )
    max_sql_warehouse_clusters: int = Field(2, gt=0, description="Cap on a SQL warehouse's max_num_clusters.")
    sql_warehouse_sizes: list[str] = Field(description="Allowed SQL warehouse cluster sizes.")
    require_job_webhooks: bool = Field(
        False, description="Scheduled jobs must notify a notification destination of the stack on failure."
    )

    @field_validator(
        "runtime_pattern",
        "gpu_policy_name_pattern",
        "secret_key_pattern",
        "inference_policy_name_pattern",
        "spot_policy_name_pattern",
    )
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _regex(value) if value is not None else None

    @field_validator("secret_value_patterns")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        return [_regex(pattern) for pattern in value]

    @field_validator("read_privileges", "privileged_privileges")
    @classmethod
    def _privileges(cls, value: list[str]) -> list[str]:
        return [normalize_privilege(p) for p in value]


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:  # not a ValueError: pydantic would let it escape as a crash
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    return pattern


def normalize_privilege(privilege: str) -> str:
    """UC privileges are spelled ``ALL PRIVILEGES`` or ``ALL_PRIVILEGES``; compare one way."""
    return privilege.strip().upper().replace(" ", "_")


# How an environment's value can be looser than its floor (and which way a change loosens it).
FLOOR_KINDS: dict[str, str] = {
    "max_autotermination_minutes": "at_most",
    "max_dbus_per_hour": "at_most",
    "max_workers": "at_most",
    "max_token_lifetime_days": "at_most",
    "job_max_timeout_seconds": "at_most",
    "job_max_concurrent_runs": "at_most",
    "max_sql_auto_stop_mins": "at_most",
    "max_waiver_days": "at_most",
    "gpu_job_min_interval_minutes": "at_least",
    "max_sql_warehouse_clusters": "at_most",
    "sql_warehouse_sizes": "within",
    "required_tags": "contains",
    "protected_types": "contains",
    "privileged_privileges": "contains",
    "prod_workspace_envs": "contains",
    "allowed_access_modes": "within",
    "cpu_node_types": "within",
    "gpu_node_types": "within",
    "runtimes": "within",
    "lts_runtimes": "within",
    "read_privileges": "within",
    "workspace_settings": "includes",
}


class Floors(Spec):
    """The loosest value any environment may hold; only a change approved by the security owner moves one."""

    max_autotermination_minutes: int | None = Field(None, gt=0)
    max_dbus_per_hour: float | None = Field(None, gt=0)
    max_workers: int | None = Field(None, gt=0)
    max_token_lifetime_days: int | None = Field(None, gt=0)
    job_max_timeout_seconds: int | None = Field(None, gt=0)
    job_max_concurrent_runs: int | None = Field(None, gt=0)
    max_sql_auto_stop_mins: int | None = Field(None, gt=0)
    max_waiver_days: int | None = Field(None, gt=0)
    gpu_job_min_interval_minutes: int | None = Field(None, gt=0)
    max_sql_warehouse_clusters: int | None = Field(None, gt=0)
    sql_warehouse_sizes: list[str] | None = None
    required_tags: list[str] | None = None
    protected_types: list[str] | None = None
    privileged_privileges: list[str] | None = None
    prod_workspace_envs: list[str] | None = None
    allowed_access_modes: list[str] | None = None
    cpu_node_types: list[str] | None = None
    gpu_node_types: list[str] | None = None
    runtimes: list[str] | None = None
    lts_runtimes: list[str] | None = None
    read_privileges: list[str] | None = None
    workspace_settings: dict[str, bool] | None = None

    @field_validator("privileged_privileges", "read_privileges")
    @classmethod
    def _privileges(cls, value: list[str] | None) -> list[str] | None:
        return [normalize_privilege(p) for p in value] if value is not None else None


def looser_than_floor(kind: str, value: Any, floor: Any) -> str | None:
    """How ``value`` is looser than ``floor`` (None: it is not)."""
    if kind == "at_most" and value > floor:
        return f"{value:g} is above its floor {floor:g}"
    if kind == "at_least" and value < floor:
        return f"{value:g} is below its floor {floor:g}"
    if kind == "contains" and (missing := [v for v in floor if v not in value]):
        return f"drops {missing}, which the floor requires"
    if kind == "within" and (extra := [v for v in value if v not in floor]):
        return f"admits {extra}, beyond the floor's list"
    if kind == "includes" and (changed := sorted(k for k, v in floor.items() if value.get(k) != v)):
        return f"relaxes {changed}, which the floor fixes"
    return None
