"""Running a fleet of models: notification destinations, the SQL warehouse, the dashboard and alerts,
the daily model inventory, job health thresholds, registered-model tags and cluster capacity.

One module so that the rules which compute a value from others ("None means computed") live in one
place: the on-demand/spot choice per compute profile, a job's duration warning, a model's tags.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from mlops_spec.config.base import Spec
from mlops_spec.config.errors import Problem

if TYPE_CHECKING:  # environment and model_spec import this module
    from mlops_spec.config.environment import EnvironmentConfig
    from mlops_spec.config.model_spec import ModelSpec

# --- notifications ------------------------------------------------------------------------------

DestinationType = Literal["slack", "generic_webhook", "microsoft_teams"]
NOTIFICATION_URLS_VARIABLE = "notification_urls"
"""Sensitive Terraform variable (a map: destination name -> URL) the stacks read every URL from; CI sets
it from a secret (``TF_VAR_notification_urls``), so no URL is ever in this repository."""


class NotificationDestination(Spec):
    """A Slack channel, Teams channel or generic webhook; its URL is never in config (a secret in CI)."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,62}$",
        description=f"Key of the URL in the {NOTIFICATION_URLS_VARIABLE} variable; also the display name.",
    )
    type: DestinationType = Field(description="slack, generic_webhook or microsoft_teams.")


class NotificationsConfig(Spec):
    destinations: tuple[NotificationDestination, ...] = Field(
        (), description="Slack, Teams or webhook destinations; URLs come from the notification_urls variable."
    )
    job_failures: tuple[str, ...] = Field(
        (), description="Destinations every job notifies on failure and on a duration warning."
    )
    sql_alerts: tuple[str, ...] = Field((), description="Destinations the SQL alerts notify.")

    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.destinations)


# --- SQL warehouse, dashboard, alerts, inventory ---------------------------------------------------

WarehouseSize = Literal["2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large"]


class WarehouseConfig(Spec):
    """The environment's SQL warehouse: the dashboard and the SQL alerts run on it."""

    serverless: bool = Field(True, description="Serverless SQL (PRO type); false = a classic PRO warehouse.")
    cluster_size: WarehouseSize = Field("2X-Small", description="Size of each cluster of the warehouse.")
    min_num_clusters: int = Field(1, ge=1, le=30, description="Clusters kept while the warehouse runs.")
    max_num_clusters: int = Field(1, ge=1, le=40, description="Cap on clusters for concurrent queries.")
    auto_stop_mins: int = Field(
        10, ge=10, le=120, description="Idle minutes before it stops (the API takes 0 = never, or >= 10)."
    )
    spot_instance_policy: Literal["COST_OPTIMIZED", "RELIABILITY_OPTIMIZED"] | None = Field(
        None,
        description="Classic only; None = RELIABILITY_OPTIMIZED in prod, COST_OPTIMIZED elsewhere.",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> WarehouseConfig:
        if self.min_num_clusters > self.max_num_clusters:
            raise ValueError(
                f"min_num_clusters {self.min_num_clusters} exceeds max_num_clusters {self.max_num_clusters}"
            )
        return self

    def spot_policy(self, is_prod: bool) -> str:
        if self.spot_instance_policy is not None:
            return self.spot_instance_policy
        return "RELIABILITY_OPTIMIZED" if is_prod else "COST_OPTIMIZED"


class InventoryConfig(Spec):
    schedule: str = Field("0 0 7 * * ?", description="Quartz cron of the inventory (after the monitors).")
    timezone: str = Field("UTC", description="Java time zone id of the schedule.")
    duration_warning_seconds: int = Field(1800, ge=60, description="Health rule: warn when a run is longer.")


class AlertsConfig(Spec):
    schedule: str = Field(
        "0 30 7 * * ?", description="Quartz cron of the SQL alerts (after the inventory run)."
    )
    timezone: str = Field("UTC", description="Java time zone id of the schedule.")
    stale_after_hours: int = Field(
        48, ge=1, description="Monitoring is stale when a model's newest window ended longer ago than this."
    )


class FleetConfig(Spec):
    """The fleet view of an environment: warehouse, dashboard, alerts and the inventory job."""

    enabled: bool = Field(True, description="False = no warehouse, dashboard, alerts or inventory job.")
    warehouse: WarehouseConfig = Field(WarehouseConfig(), description="The SQL warehouse.")
    inventory: InventoryConfig = Field(InventoryConfig(), description="The daily model inventory job.")
    alerts: AlertsConfig = Field(AlertsConfig(), description="The SQL alerts on the fleet tables.")


# --- per model: tags and job health ---------------------------------------------------------------

Criticality = Literal["low", "medium", "high", "critical"]
DURATION_WARNING_SHARE = 0.8
"""A job's duration warning defaults to this share of its timeout: late enough to be unusual, early
enough to act before the run is killed."""


class JobHealthSpec(Spec):
    """Run-duration thresholds of a model's jobs (a health rule; the webhook fires when one is passed)."""

    train_warning_seconds: int | None = Field(None, ge=60, description="None = 80% of the job's timeout.")
    monitor_warning_seconds: int | None = Field(None, ge=60, description="None = 80% of the job's timeout.")
    retrain_warning_seconds: int | None = Field(None, ge=60, description="None = 80% of the job's timeout.")

    def warning_seconds(self, purpose: str, timeout_seconds: int) -> int:
        """The one place the 'None means a share of the timeout' rule lives."""
        explicit = getattr(self, f"{purpose}_warning_seconds", None)
        return explicit if explicit is not None else max(60, int(timeout_seconds * DURATION_WARNING_SHARE))


# --- capacity -------------------------------------------------------------------------------------

Capacity = Literal["spot_with_fallback", "on_demand"]
AWS_AVAILABILITY: dict[str, str] = {"spot_with_fallback": "SPOT_WITH_FALLBACK", "on_demand": "ON_DEMAND"}


def capacity_of(profile_name: str, configured: Capacity | None, is_prod: bool) -> Capacity | None:
    """Where a profile's clusters run: None for interactive compute (left to the person).

    Training and batch clusters use spot capacity that falls back to on-demand, behind an on-demand
    driver; prod inference (batch scoring and monitoring) stays on-demand.
    """
    if profile_name == "interactive":
        return None
    if configured is not None:
        return configured
    return "on_demand" if profile_name == "inference" and is_prod else "spot_with_fallback"


# --- cross-field checks -------------------------------------------------------------------------


def check_fleet(env: EnvironmentConfig, file: str) -> Iterator[Problem]:
    """Destinations named once and known where used; the fleet's schedules are Quartz crons."""
    from mlops_spec.config.cron import cron_problem

    names = env.notifications.names()
    for i, name in enumerate(names):
        if name in names[:i]:
            yield Problem(file, ("notifications", "destinations", i, "name"), "duplicate destination", name)
    for use in ("job_failures", "sql_alerts"):
        for i, name in enumerate(getattr(env.notifications, use)):
            if name not in names:
                yield Problem(
                    file,
                    ("notifications", use, i),
                    "unknown notification destination",
                    name,
                    ", ".join(names) or "none declared under notifications.destinations",
                )
    for section in ("inventory", "alerts"):
        cron = getattr(env.fleet, section).schedule
        if (why := cron_problem(cron)) is not None:
            yield Problem(file, ("fleet", section, "schedule"), f"invalid cron: {why}", cron)
    if env.fleet.enabled and not env.notifications.sql_alerts and env.is_prod:
        yield Problem(
            file,
            ("notifications", "sql_alerts"),
            "production SQL alerts must notify at least one destination",
            show_value=False,
            allowed="names from notifications.destinations",
        )


def model_tags(model: ModelSpec, groups: Mapping[str, str]) -> dict[str, str]:
    """Registered-model tags from the spec: the name's parts (department_usecase_algorithm), the owning
    group's display name and the criticality. UC tag keys may not hold ``. , - = / :`` (Databricks,
    "Apply tags to Unity Catalog securable objects"), hence the underscores."""
    department, use_case, algorithm = model.name.split("_", 2)
    return {
        "department": department,
        "use_case": use_case,
        "algorithm": algorithm,
        "owner_group": groups.get(model.owner_group, model.owner_group),
        "criticality": model.criticality,
    }
