"""Feature tables of one environment: the Unity Catalog tables and one feature job per update schedule.

* Each table is a managed Delta ``databricks_sql_table`` in the ``features`` schema: key columns NOT
  NULL, liquid clustering on the spec's columns, deletion vectors off (a MERGE then conflicts with a
  concurrent insert instead of both inserting a key). It is owned by the job runner: the feature job
  adds the ``PRIMARY KEY (id, ts TIMESERIES)`` constraint itself (``ml_jobs.features.store``), because
  ``databricks_sql_table`` cannot declare constraints (provider v1.99.0 catalog/resource_sql_table.go,
  ``buildTableCreateStatement``) and adding one needs ownership (Unity Catalog API, Create Table
  Constraint). Grants come from the role matrix, on the table by reference.
* Tables refreshed on the same Quartz schedule share one job (``[env] features: <cron> <tz>``), a task
  per table, each running the wheel's ``features`` entry point as the job runner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from infra.cdk import Construct, Job, JobJobCluster, JobTask, JobTaskLibrary, SqlTable, SqlTableColumn
from infra.constructs._grants import GrantSet
from infra.constructs._permissions import object_permissions
from infra.constructs.fleet import watch_job
from infra.constructs.ml_model import JobCompute, JobDefaults, job_cluster
from mlops_spec.config.features import FeatureTableSpec
from mlops_spec.naming import WHEEL_PACKAGE, feature_job_name, platform_tags

TABLE_PRIVILEGES = frozenset({"SELECT", "MODIFY", "APPLY_TAG", "MANAGE", "ALL_PRIVILEGES"})
"""What a table grant may hold; catalog and schema privileges of the role matrix keep to the schema."""
SQL_TYPES = {"numeric": "DOUBLE", "categorical": "STRING", "key": "STRING", "timestamp": "TIMESTAMP"}


@dataclass(frozen=True)
class FeatureTablesProps:
    env: str
    catalog: str
    """Catalog name (a reference to the catalog)."""
    schema: str
    """The features schema's name (a reference to the schema)."""
    tables: Sequence[FeatureTableSpec]
    owner: str
    """Who owns the tables (a reference): the identity the feature job runs as."""
    wheel_path: str
    compute: JobCompute
    jobs: JobDefaults
    tags: Mapping[str, str]
    warehouse_id: str | None = None
    """SQL warehouse the provider creates the tables on; None = a cluster it starts for that."""
    table_grants: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Role -> (principal, privileges) on every feature table."""
    job_access: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    job_destinations: Sequence[str] = ()
    duration_warning_seconds: int = 1800


def columns(table: FeatureTableSpec) -> list[SqlTableColumn]:
    kinds = [
        *((c, "key") for c in table.primary_key),
        (table.timestamp_key, "timestamp"),
        *((c, "numeric") for c in table.numeric_features),
        *((c, "categorical") for c in table.categorical_features),
    ]
    return [
        SqlTableColumn(name=c, type=SQL_TYPES[k], nullable=k not in ("key", "timestamp")) for c, k in kinds
    ]


def _slug(schedule: str, timezone: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{schedule} {timezone}".lower()).strip("-")


class FeatureTables(Construct):
    def __init__(self, scope: Construct, id_: str, props: FeatureTablesProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.tables: dict[str, SqlTable] = {}
        self.grants: dict[str, GrantSet] = {}
        for table in props.tables:
            self.tables[table.name] = self._table(table)
        self.jobs: dict[str, Job] = {}
        by_schedule: dict[tuple[str, str], list[FeatureTableSpec]] = {}
        for table in props.tables:
            by_schedule.setdefault((table.schedule, table.timezone), []).append(table)
        for (schedule, timezone), group in sorted(by_schedule.items()):
            self.jobs[feature_job_name(props.env, schedule, timezone)] = self._job(schedule, timezone, group)

    def _table(self, table: FeatureTableSpec) -> SqlTable:
        p = self.props
        resource = SqlTable(
            self,
            f"table-{table.name}",
            catalog_name=p.catalog,
            schema_name=p.schema,
            name=table.name,
            table_type="MANAGED",
            data_source_format="DELTA",
            column=columns(table),
            cluster_keys=list(table.clustering()),
            comment=table.description or f"Feature table {table.name}",
            owner=p.owner,
            warehouse_id=p.warehouse_id,
            properties={"delta.enableDeletionVectors": "false"},
        )
        grants = GrantSet(self, f"grants-{table.name}", {"table": resource.id})
        for role, (principal, privileges) in sorted(p.table_grants.items()):
            grants.add(principal, [x for x in privileges if x in TABLE_PRIVILEGES], role)
        self.grants[table.name] = grants
        return resource

    def _job(self, schedule: str, timezone: str, group: Sequence[FeatureTableSpec]) -> Job:
        p, jobs = self.props, self.props.jobs
        tags = platform_tags(p.tags)
        tasks = [
            JobTask(
                task_key=table.name,
                job_cluster_key="main",
                python_wheel_task={
                    "package_name": WHEEL_PACKAGE,
                    "entry_point": "features",
                    "named_parameters": {"env": p.env, "tables": table.name},
                },
                library=[JobTaskLibrary(whl=p.wheel_path)],
                max_retries=jobs.max_retries,
                min_retry_interval_millis=jobs.min_retry_interval_millis,
                timeout_seconds=jobs.timeout_seconds,
            )
            for table in group
        ]
        slug = _slug(schedule, timezone)
        job = Job(
            self,
            f"job-{slug}",
            name=feature_job_name(p.env, schedule, timezone),
            max_concurrent_runs=1,
            timeout_seconds=jobs.timeout_seconds,
            tags=dict(tags),
            email_notifications={"on_failure": list(jobs.notification_emails)},
            job_cluster=[
                JobJobCluster(job_cluster_key="main", new_cluster=job_cluster(p.compute, jobs, tags, p.env))
            ],
            task=tasks,
            queue={"enabled": True},
            schedule={
                "quartz_cron_expression": schedule,
                "timezone_id": timezone,
                "pause_status": "PAUSED" if jobs.pause_schedules else "UNPAUSED",
            },
            run_as={"service_principal_name": jobs.run_as} if jobs.run_as else None,
        )
        watch_job(job, p.duration_warning_seconds, p.job_destinations)
        object_permissions(self, f"job-{slug}-permissions", p.job_access, job_id=job.id)
        return job
