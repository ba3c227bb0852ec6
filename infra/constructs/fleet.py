"""The fleet view of one environment: notification destinations, the SQL warehouse, the dashboard, the SQL
alerts and the daily inventory job; and the health rules and webhooks every job gets.

* Notification destinations read their URLs from one sensitive Terraform variable
  (``notification_urls``, a map: destination name -> URL) that CI fills from a secret; the URLs never
  appear in this repository or the synthesized JSON (they do reach the Terraform state and a saved
  plan, like any credential Terraform manages, so both stay protected).
* The dashboard is rendered from ``infra/dashboards/fleet.lvdash.json.j2`` with Unity Catalog table
  names and published without embedded credentials: each viewer sees what their own grants allow.
* The alerts (``databricks_alert_v2``) run on the warehouse as the job runner on a schedule after the
  inventory, and notify the configured destinations.
* The inventory job runs the ``inventory`` entry point of the wheel once a day on the inference
  policy (batch capacity), as the job runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from infra.cdk import (
    AlertV2,
    Construct,
    Dashboard,
    Directory,
    Fn,
    Job,
    JobJobCluster,
    JobTask,
    JobTaskLibrary,
    NotificationDestination,
    SqlEndpoint,
    TerraformVariable,
)
from infra.cdk import (
    AlertV2EvaluationNotificationSubscriptions as Subscription,
)
from infra.constructs._permissions import object_permissions
from infra.constructs.ml_model import JobCompute, JobDefaults, job_cluster
from infra.dashboards.template import render, serialized, uc_tables
from mlops_spec.config.fleet import (
    NOTIFICATION_URLS_VARIABLE,
    AlertsConfig,
    InventoryConfig,
    WarehouseConfig,
)
from mlops_spec.config.fleet import (
    NotificationDestination as DestinationConfig,
)
from mlops_spec.naming import (
    FLEET,
    FLEET_METRICS_TABLE,
    INVENTORY_TABLE,
    MONITORING_SCHEMA,
    WHEEL_PACKAGE,
    alert_name,
    dashboard_name,
    fleet_job_name,
    platform_tags,
    warehouse_name,
)

DURATION_METRIC = "RUN_DURATION_SECONDS"


# --- notification destinations ------------------------------------------------------------------


class NotificationDestinations(Construct):
    """One ``databricks_notification_destination`` per configured destination; ``ids`` by name."""

    def __init__(self, scope: Construct, id_: str, destinations: Sequence[DestinationConfig]) -> None:
        super().__init__(scope, id_)
        self.ids: dict[str, str] = {}
        if not destinations:
            return
        urls = TerraformVariable(
            self,
            NOTIFICATION_URLS_VARIABLE,
            type="map(string)",
            sensitive=True,
            description="Notification destination name -> webhook URL (CI: TF_VAR_notification_urls).",
        )
        # The variable's name is what CI sets (TF_VAR_notification_urls): not a generated logical id.
        urls.override_logical_id(NOTIFICATION_URLS_VARIABLE)
        for dest in destinations:
            url = Fn.lookup(urls.value, dest.name)
            resource = NotificationDestination(
                self, dest.name, display_name=dest.name, config={dest.type: {"url": url}}
            )
            self.ids[dest.name] = resource.id

    def pick(self, names: Sequence[str]) -> list[str]:
        return [self.ids[n] for n in names]


def watch_job(
    job: Job, warning_seconds: int, destination_ids: Sequence[str], emails: Sequence[str] = ()
) -> None:
    """A run-duration health rule, and webhooks (and e-mails) on failure and on a duration warning."""
    job.put_health(rules=[{"metric": DURATION_METRIC, "op": "GREATER_THAN", "value": warning_seconds}])
    if destination_ids:
        hooks = [{"id": i} for i in destination_ids]
        job.put_webhook_notifications(on_failure=hooks, on_duration_warning_threshold_exceeded=hooks)
    if emails:
        job.put_email_notifications(
            on_failure=list(emails), on_duration_warning_threshold_exceeded=list(emails)
        )


# --- warehouse, dashboard, alerts ---------------------------------------------------------------


@dataclass(frozen=True)
class FleetProps:
    env: str
    is_prod: bool
    catalog: str
    """Catalog name (a reference to the catalog)."""
    platform_folder: str
    """The environment's folder (a reference): the fleet folder is created inside it."""
    tags: Mapping[str, str]
    warehouse: WarehouseConfig
    inventory: InventoryConfig
    alerts: AlertsConfig
    wheel_path: str
    compute: JobCompute
    """The inventory job's cluster (the inference policy: batch capacity)."""
    jobs: JobDefaults
    run_as: str | None
    """Application id of the job runner (a reference): the inventory job and the alerts run as it."""
    alert_destinations: Sequence[str] = ()
    """Notification destination ids (references) the alerts notify."""
    job_destinations: Sequence[str] = ()
    warehouse_access: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    dashboard_access: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    job_access: Mapping[str, tuple[str, str]] = field(default_factory=dict)


# (alert kind, the value column, SQL over the fleet tables); each fires when its value is above 0.
def alert_queries(catalog: str, stale_after_hours: int) -> dict[str, tuple[str, str]]:
    """Spark SQL for the alerts. A model's latest window is the newest ``window_end`` it has."""
    metrics = f"{catalog}.{MONITORING_SCHEMA}.{FLEET_METRICS_TABLE}"
    inventory = f"{catalog}.{MONITORING_SCHEMA}.{INVENTORY_TABLE}"
    latest = (
        f"FROM {metrics} m JOIN (SELECT model, max(window_end) AS window_end FROM {metrics} "
        "GROUP BY model) w ON m.model = w.model AND m.window_end = w.window_end "
    )
    return {
        "dataset_drift": (
            "models_drifting",
            "SELECT count(DISTINCT m.model) AS models_drifting "
            + latest
            + "WHERE m.drift_type = 'BASELINE' AND m.`column` = '__dataset__' AND m.metric = 'drift_share' "
            "AND m.drifted",
        ),
        "performance_floor": (
            "models_below_floor",
            "SELECT count(DISTINCT m.model) AS models_below_floor "
            + latest
            + f"JOIN {inventory} i ON i.model = m.model "
            "WHERE m.drift_type = 'BASELINE' AND m.`column` = '__performance__' AND m.metric = 'roc_auc' "
            "AND m.value < i.roc_auc_floor",
        ),
        "monitoring_stale": (
            "models_not_monitored",
            # A model not monitored for too long, or the inventory itself not refreshed (its job failed).
            f"SELECT count(*) AS models_not_monitored FROM {inventory} WHERE flag = 'ok' AND "
            f"(last_window_end IS NULL OR timestampdiff(HOUR, last_window_end, current_timestamp()) > "
            f"{stale_after_hours} OR timestampdiff(HOUR, inventory_time, current_timestamp()) > "
            f"{stale_after_hours})",
        ),
    }


class Fleet(Construct):
    def __init__(self, scope: Construct, id_: str, props: FleetProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        tags = platform_tags(props.tags)
        self.folder = Directory(
            self, "folder", path=f"{props.platform_folder}/{FLEET}", delete_recursive=False
        )
        self.warehouse = self._warehouse(tags)
        object_permissions(
            self, "warehouse-permissions", props.warehouse_access, sql_endpoint_id=self.warehouse.id
        )
        self.dashboard = Dashboard(
            self,
            "dashboard",
            display_name=dashboard_name(props.env),
            warehouse_id=self.warehouse.id,
            parent_path=self.folder.path,
            serialized_dashboard=serialized(render(uc_tables(props.catalog))),
            # Published without the publisher's credentials: viewers query with their own grants.
            embed_credentials=False,
        )
        object_permissions(
            self, "dashboard-permissions", props.dashboard_access, dashboard_id=self.dashboard.id
        )
        self.alerts = {
            kind: self._alert(kind, column, sql) for kind, (column, sql) in self._queries().items()
        }
        self.inventory_job = self._inventory_job(tags)

    def _queries(self) -> dict[str, tuple[str, str]]:
        return alert_queries(self.props.catalog, self.props.alerts.stale_after_hours)

    def _warehouse(self, tags: Mapping[str, str]) -> SqlEndpoint:
        w, p = self.props.warehouse, self.props
        return SqlEndpoint(
            self,
            "warehouse",
            name=warehouse_name(p.env),
            cluster_size=w.cluster_size,
            min_num_clusters=w.min_num_clusters,
            max_num_clusters=w.max_num_clusters,
            auto_stop_mins=w.auto_stop_mins,
            enable_serverless_compute=w.serverless,
            # Serverless needs PRO (docs/resources/sql_endpoint.md); classic PRO keeps Unity Catalog features.
            warehouse_type="PRO",
            # A classic-only setting: None leaves it out of the JSON for a serverless warehouse.
            spot_instance_policy=None if w.serverless else w.spot_policy(p.is_prod),
            tags={"custom_tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]},
        )

    def _alert(self, kind: str, column: str, sql: str) -> AlertV2:
        p, a = self.props, self.props.alerts
        return AlertV2(
            self,
            f"alert-{kind}",
            display_name=alert_name(p.env, kind),
            query_text=sql,
            warehouse_id=self.warehouse.id,
            parent_path=self.folder.path,
            evaluation={
                "source": {"name": column, "display": column.replace("_", " ")},
                "comparison_operator": "GREATER_THAN",
                "threshold": {"value": {"double_value": 0}},
                "empty_result_state": "OK",
                "notification": {
                    # Typed: plain dicts in this list synthesize empty (a jsii struct in a list).
                    "subscriptions": [Subscription(destination_id=i) for i in p.alert_destinations],
                    "notify_on_ok": True,
                    # At most one notification a day while the condition holds.
                    "retrigger_seconds": 86_400,
                },
            },
            schedule={
                "quartz_cron_schedule": a.schedule,
                "timezone_id": a.timezone,
                "pause_status": "PAUSED" if p.jobs.pause_schedules else "UNPAUSED",
            },
            custom_summary=f"{alert_name(p.env, kind)}: {{{{ALERT_STATUS}}}}",
            run_as={"service_principal_name": p.run_as} if p.run_as else None,
        )

    def _inventory_job(self, tags: Mapping[str, str]) -> Job:
        p, jobs, inv = self.props, self.props.jobs, self.props.inventory
        task = JobTask(
            task_key="inventory",
            job_cluster_key="main",
            python_wheel_task={
                "package_name": WHEEL_PACKAGE,
                "entry_point": "inventory",
                "named_parameters": {"env": p.env},
            },
            library=[JobTaskLibrary(whl=p.wheel_path)],
            max_retries=jobs.max_retries,
            min_retry_interval_millis=jobs.min_retry_interval_millis,
            timeout_seconds=jobs.timeout_seconds,
        )
        job = Job(
            self,
            "inventory-job",
            name=fleet_job_name(p.env, "inventory"),
            max_concurrent_runs=1,
            timeout_seconds=jobs.timeout_seconds,
            tags=dict(tags),
            email_notifications={"on_failure": list(jobs.notification_emails)},
            job_cluster=[
                JobJobCluster(job_cluster_key="main", new_cluster=job_cluster(p.compute, jobs, tags, p.env))
            ],
            task=[task],
            queue={"enabled": True},
            schedule={
                "quartz_cron_expression": inv.schedule,
                "timezone_id": inv.timezone,
                "pause_status": "PAUSED" if jobs.pause_schedules else "UNPAUSED",
            },
            run_as={"service_principal_name": p.run_as} if p.run_as else None,
        )
        watch_job(job, inv.duration_warning_seconds, p.job_destinations)
        object_permissions(self, "inventory-job-permissions", p.job_access, job_id=job.id)
        return job
