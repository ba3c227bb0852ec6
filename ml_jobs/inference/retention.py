"""Retention of the tables that grow with traffic: predictions, labels and (served models) the payload.

``monitoring.retention_days`` (default 90) applies to each table the ``maintain`` task keeps:

1. the Delta properties ``delta.deletedFileRetentionDuration`` and ``delta.logRetentionDuration`` are
   set to that interval (only when they differ, so a daily run adds no commit): removed files and log
   entries stay that long for time travel;
2. rows whose time column is older than the cutoff (now minus the retention) are deleted;
3. ``VACUUM`` removes the files removed longer ago than the retention.

Every step is idempotent, so a run killed at any point and run again, or two runs at once, end as one
run does (a second concurrent DELETE fails Delta's optimistic concurrency check; the task's retry
runs it again). On Databricks the steps are Spark SQL on the Unity Catalog tables; the maintaining
identity needs MODIFY and SELECT on each (``ALTER TABLE ... SET TBLPROPERTIES`` needs MODIFY:
Databricks SQL reference, ALTER TABLE, "Required permissions"). Locally they run through deltalake.
A table that does not exist yet is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from mlops_spec import tables
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.tables import LABEL_TIMESTAMP, retention_properties


@dataclass(frozen=True)
class RetainedTable:
    schema: str
    table: str
    time_column: str
    """Rows older than the cutoff by this column leave the table."""


def retained_tables(model: ModelSpec) -> list[RetainedTable]:
    """The tables ``maintain`` keeps for a model (the operations declaration reads the same list)."""
    out = [
        RetainedTable(*tables.inference_log(model.name), "timestamp"),
        RetainedTable(*tables.labels(model.name), LABEL_TIMESTAMP),
    ]
    if model.serving.enabled:  # the endpoint's inference table (ml_jobs.inference.payload)
        out.append(RetainedTable(*tables.payload(model.name), "request_time"))
    return out


def retention_cutoff(spec: ResolvedSpec, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=spec.model.monitoring.retention_days)


def run_maintain(spec: ResolvedSpec, runtime: Runtime, now: datetime | None = None) -> dict[str, Any]:
    days = spec.model.monitoring.retention_days
    cutoff = retention_cutoff(spec, now)
    keep = _maintain_spark if runtime.on_databricks else _maintain_local
    done = [keep(runtime, t, cutoff, days) for t in retained_tables(spec.model)]
    return {"cutoff": cutoff.isoformat(), "retention_days": days, "tables": done}


def _maintain_spark(runtime: Runtime, t: RetainedTable, cutoff: datetime, days: int) -> dict[str, Any]:
    ref = runtime.table_ref(t.schema, t.table)
    spark = runtime.spark()
    if not spark.catalog.tableExists(ref):
        return {"table": ref, "note": "no table yet"}
    wanted = retention_properties(days)
    current = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {ref}").collect()}
    if any(current.get(k) != v for k, v in wanted.items()):
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in wanted.items())
        spark.sql(f"ALTER TABLE {ref} SET TBLPROPERTIES ({assignments})")
    before = spark.sql(f"SELECT count(*) AS n FROM {ref}").collect()[0]["n"]
    spark.sql(f"DELETE FROM {ref} WHERE {t.time_column} < TIMESTAMP '{_literal(cutoff)}'")
    after = spark.sql(f"SELECT count(*) AS n FROM {ref}").collect()[0]["n"]
    spark.sql(f"VACUUM {ref}")
    return {"table": ref, "deleted_rows": int(before - after)}


def _maintain_local(runtime: Runtime, t: RetainedTable, cutoff: datetime, days: int) -> dict[str, Any]:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = runtime.table_ref(t.schema, t.table)
    try:
        table = DeltaTable(path)
    except TableNotFoundError:
        return {"table": f"{t.schema}.{t.table}", "note": "no table yet"}
    wanted = retention_properties(days)
    current = table.metadata().configuration
    if any(current.get(k) != v for k, v in wanted.items()):
        table.alter.set_table_properties(wanted)
    deleted = table.delete(f"{t.time_column} < '{_literal(cutoff)}'")
    table.vacuum(retention_hours=days * 24, dry_run=False)
    return {"table": f"{t.schema}.{t.table}", "deleted_rows": int(deleted.get("num_deleted_rows", 0))}


def _literal(moment: datetime) -> str:
    """A timestamp literal with its offset: Spark and deltalake read it as that instant whatever the
    session time zone (a literal without one is local to the Spark session)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
