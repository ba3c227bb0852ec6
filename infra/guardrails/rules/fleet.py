"""Running a fleet: capacity per workload, the SQL warehouse, dashboards, SQL alerts, notification
destinations and job health.

Capacity attribute names and values are databricks-sdk's (compute.AwsAttributes, AzureAttributes,
GcpAttributes): ``availability`` applies past the first ``first_on_demand`` nodes, and a
``first_on_demand`` above 0 puts the driver on on-demand capacity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.rules.compute import CLOUD_ATTRIBUTES, _nested, _readable
from infra.guardrails.stack import Policy, StackIndex, as_bool, as_number, block, blocks, is_interpolation
from infra.tfdoc import SENSITIVE
from infra.tfdoc.document import Resource

ON_DEMAND = frozenset({"ON_DEMAND", "ON_DEMAND_AZURE", "ON_DEMAND_GCP"})
WITH_FALLBACK = frozenset({"SPOT_WITH_FALLBACK", "SPOT_WITH_FALLBACK_AZURE", "PREEMPTIBLE_WITH_FALLBACK_GCP"})
VARIABLE = re.compile(r"\bvar\.[A-Za-z_]")
# Where a notification destination keeps a credential (docs/resources/notification_destination.md).
DESTINATION_SECRETS = {
    "slack": ("url", "oauth_token"),
    "generic_webhook": ("url", "password"),
    "microsoft_teams": ("url", "auth_secret"),
    "pagerduty": ("integration_key",),
}
DURATION_METRIC = "RUN_DURATION_SECONDS"


def _matching(index: StackIndex, pattern: str | None) -> Iterator[Policy]:
    if pattern is None:
        return
    compiled = re.compile(pattern, re.IGNORECASE)
    yield from (p for p in _readable(index) if compiled.search(p.name))


def _availability(policy: Policy) -> dict[str, list[Any]]:
    """Cloud attributes block -> the availability values the policy admits (only the blocks it pins)."""
    out = {}
    for attrs in CLOUD_ATTRIBUTES:
        allowed = policy.allowed(f"{attrs}.availability")
        if allowed:
            out[attrs] = [str(v).upper() for v in allowed]
    return out


def _clusters_on(index: StackIndex, policies: list[Policy]) -> Iterator[tuple[Any, Policy]]:
    addresses = {p.resource.address: p for p in policies}
    for cluster in index.clusters():
        policy = index.policy_of(cluster)
        if policy is not None and policy.resource.address in addresses:
            yield cluster, policy


@rule("DBX112", "inference_policy_name_pattern")
def prod_inference_on_demand(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    policies = list(_matching(index, params.inference_policy_name_pattern))
    for policy in policies:
        pinned = _availability(policy)
        if not pinned:
            yield Violation(
                policy.resource,
                f"policy '{policy.name}' does not pin <cloud>_attributes.availability: prod inference "
                "clusters may ask for spot capacity",
            )
        for attrs, values in pinned.items():
            spot = [v for v in values if v not in ON_DEMAND]
            if spot:
                yield Violation(
                    policy.resource,
                    f"policy '{policy.name}' admits {attrs}.availability {spot} for prod inference",
                )
    for cluster, policy in _clusters_on(index, policies):
        for attrs in CLOUD_ATTRIBUTES:
            availability = _nested(cluster, policy, attrs, "availability")
            if availability is not None and str(availability).upper() not in ON_DEMAND:
                yield Violation(
                    cluster.owner,
                    f"{cluster.where}: {attrs}.availability {availability!r} on prod inference policy "
                    f"'{policy.name}'; prod inference stays on-demand",
                )


@rule("DBX113", "spot_policy_name_pattern")
def spot_with_fallback(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    policies = list(_matching(index, params.spot_policy_name_pattern))
    for policy in policies:
        pinned = _availability(policy)
        if not pinned:
            yield Violation(
                policy.resource,
                f"policy '{policy.name}' does not pin <cloud>_attributes.availability to spot with fallback",
            )
        for attrs, values in pinned.items():
            other = [v for v in values if v not in WITH_FALLBACK]
            if other:
                yield Violation(
                    policy.resource,
                    f"policy '{policy.name}' admits {attrs}.availability {other}; training and batch use "
                    "spot with fallback to on-demand",
                )
            low = policy.minimum(f"{attrs}.first_on_demand")
            if low is None or low < 1:
                yield Violation(
                    policy.resource,
                    f"policy '{policy.name}' lets {attrs}.first_on_demand be "
                    f"{low if low is not None else 'unset'}: the driver may run on spot (keep it >= 1)",
                )
    for cluster, policy in _clusters_on(index, policies):
        for attrs in CLOUD_ATTRIBUTES:
            availability = _nested(cluster, policy, attrs, "availability")
            first = as_number(_nested(cluster, policy, attrs, "first_on_demand"))
            if availability is not None and str(availability).upper() not in WITH_FALLBACK:
                yield Violation(
                    cluster.owner,
                    f"{cluster.where}: {attrs}.availability {availability!r} on policy '{policy.name}'",
                )
            if availability is not None and (first is None or first < 1):
                yield Violation(
                    cluster.owner,
                    f"{cluster.where}: {attrs}.first_on_demand {first}: the driver runs on spot",
                )


@rule("DBX114", "max_sql_warehouse_clusters", "sql_warehouse_sizes")
def warehouse_caps(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for warehouse in index.of("databricks_sql_endpoint"):
        v = warehouse.values
        size = v.get("cluster_size")
        if size not in params.sql_warehouse_sizes:
            yield Violation(
                warehouse, f"cluster_size {size!r}; allowed: {', '.join(params.sql_warehouse_sizes)}"
            )
        high = as_number(v.get("max_num_clusters")) or as_number(v.get("min_num_clusters")) or 1
        if high > params.max_sql_warehouse_clusters:
            yield Violation(
                warehouse, f"max_num_clusters {high:g}; allowed up to {params.max_sql_warehouse_clusters}"
            )
        if as_bool(v.get("enable_serverless_compute")) is None:
            yield Violation(
                warehouse,
                "enable_serverless_compute is not set: its default depends on the workspace's history "
                "(docs/resources/sql_endpoint.md); set it explicitly",
            )


def _references(index: StackIndex, value: Any, rtype: str) -> bool:
    target, _ = index.target(value)
    return target is not None and target.type == rtype


@rule("DBX115")
def dashboards(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for dash in index.of("databricks_dashboard"):
        if as_bool(dash.values.get("embed_credentials")) is not False:
            yield Violation(
                dash,
                "embed_credentials is not false (the provider's default is true): every viewer would query "
                "with the publisher's rights",
            )
        if not _references(index, dash.values.get("warehouse_id"), "databricks_sql_endpoint"):
            yield Violation(
                dash, "warehouse_id is not a warehouse of this stack (its caps and ACL unreviewed)"
            )
        parent = str(index.resolve(dash.values.get("parent_path")) or "")
        if parent == "/Shared" or parent.startswith("/Shared/"):
            yield Violation(dash, f"parent_path {parent!r}: every user holds CAN_MANAGE under /Shared")


@rule("DBX116")
def sql_alerts(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for alert in index.of("databricks_alert_v2"):
        run_as = block(alert.values, "run_as")
        if not run_as.get("service_principal_name"):
            who = f"user {run_as['user_name']}" if run_as.get("user_name") else "the deploying identity"
            yield Violation(alert, f"runs as {who}; run SQL alerts as a service principal (run_as)")
        subscriptions = blocks(block(block(alert.values, "evaluation"), "notification"), "subscriptions")
        destinations = [s.get("destination_id") for s in subscriptions if s.get("destination_id")]
        if not destinations:
            yield Violation(alert, "notifies no notification destination")
        for dest in destinations:
            if not _references(index, dest, "databricks_notification_destination"):
                yield Violation(
                    alert, f"destination_id {dest!r} is not a notification destination of this stack"
                )
        if not _references(index, alert.values.get("warehouse_id"), "databricks_sql_endpoint"):
            yield Violation(alert, "warehouse_id is not a warehouse of this stack")


def _from_secret(value: Any) -> bool:
    """A value Terraform gets from a variable (CI fills it from a secret), or one a plan masked."""
    return value == SENSITIVE or (
        isinstance(value, str) and is_interpolation(value) and bool(VARIABLE.search(value))
    )


@rule("DBX117")
def destination_secrets(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for dest in index.of("databricks_notification_destination"):
        config = block(dest.values, "config")
        for kind, keys in DESTINATION_SECRETS.items():
            for key in keys:
                value = block(config, kind).get(key)
                if value is not None and not _from_secret(value):
                    yield Violation(
                        dest, f"config.{kind}.{key} is written in code; read it from a sensitive variable"
                    )


def _scheduled(job: Resource) -> bool:
    return bool(block(job.values, "schedule").get("quartz_cron_expression")) or bool(
        block(job.values, "trigger")
    )


@rule("DBX118", "require_job_webhooks")
def job_health(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for job in index.of("databricks_job"):
        hooks = block(job.values, "webhook_notifications")
        for event in sorted(hooks):
            for hook in blocks(hooks, event):
                if not _references(index, hook.get("id"), "databricks_notification_destination"):
                    yield Violation(
                        job,
                        f"webhook_notifications.{event} id {hook.get('id')!r} is not a destination here",
                    )
        if not _scheduled(job):
            continue
        timeout = as_number(job.values.get("timeout_seconds"))
        rules = [
            r for r in blocks(block(job.values, "health"), "rules") if r.get("metric") == DURATION_METRIC
        ]
        raw = [as_number(r.get("value")) for r in rules if r.get("op") == "GREATER_THAN"]
        limits = [v for v in raw if v is not None]
        if not limits or len(limits) < len(raw):
            yield Violation(job, f"no health rule on {DURATION_METRIC}: a run that hangs warns nobody")
        elif timeout is not None and min(limits) >= timeout:
            yield Violation(
                job, f"the duration warning ({min(limits):g} s) is not below the timeout ({timeout:g} s)"
            )
        if params.require_job_webhooks and not blocks(hooks, "on_failure"):
            yield Violation(job, "no webhook_notifications.on_failure to a notification destination")


@rule("DBX119")
def feature_tables(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    """A time series feature table needs NOT NULL key columns and a NOT NULL TIMESTAMP key (the
    TIMESERIES key; Databricks, "Point-in-time feature joins"), as a managed Delta table whose clustering
    names its own columns."""
    for table in index.of("databricks_sql_table"):
        if "features" not in str(table.values.get("schema_name") or ""):
            continue
        if str(table.values.get("data_source_format") or "").upper() != "DELTA":
            yield Violation(table, "a feature table must be a Delta table (data_source_format DELTA)")
        columns = blocks(table.values, "column")
        keys = [c for c in columns if not as_bool(c.get("nullable", True))]
        names = {str(c.get("name")) for c in columns}
        if not any(str(c.get("type")).upper() == "TIMESTAMP" for c in keys):
            yield Violation(table, "no NOT NULL TIMESTAMP column: the table has no timestamp key")
        if not any(str(c.get("type")).upper() != "TIMESTAMP" for c in keys):
            yield Violation(table, "no NOT NULL key column besides the timestamp: no primary key")
        clustering = [str(k) for k in table.values.get("cluster_keys") or ()]
        unknown = [k for k in clustering if k not in names and k.upper() not in ("AUTO", "NONE")]
        if unknown:
            yield Violation(table, f"cluster_keys {unknown} are not columns of the table")
