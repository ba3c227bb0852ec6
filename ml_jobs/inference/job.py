"""The production side of predictions: unpack served requests, score batch models (retention:
``ml_jobs.inference.retention``).

Each function takes the resolved spec and the runtime; the entry points (``unpack``, ``score``,
``maintain``) only parse arguments. On Databricks the tables are Unity Catalog Delta tables written
through Spark: unpacked and scored rows go in with ``MERGE ... WHEN NOT MATCHED`` on ``request_id``,
so a retried, killed or doubled run adds nothing twice (Delta's optimistic concurrency makes the second
of two concurrent merges fail and re-run against the first). Locally the same MERGE runs on
``deltalake`` tables.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ml_jobs.errors import BadInput
from ml_jobs.inference.payload import unpack
from ml_jobs.runtime import Runtime, read_spark_table
from ml_jobs.spec import ResolvedSpec
from mlops_spec import tables

log = logging.getLogger(__name__)


def _spark_frame(runtime: Runtime, schema: str, table: str) -> Any | None:
    """A table as a Spark DataFrame, or None when it does not exist yet."""
    spark = runtime.spark()
    if runtime.on_databricks:
        ref = runtime.table_ref(schema, table)
        return read_spark_table(spark, ref) if spark.catalog.tableExists(ref) else None
    try:
        frame, _ = runtime.read_table(schema, table)
    except BadInput:
        return None
    return spark.createDataFrame(frame) if len(frame) else None


def append_new(runtime: Runtime, rows: Any, schema: str, table: str, key: str = "request_id") -> int:
    """Insert the rows whose ``key`` the table lacks (``Runtime.merge_table``: the one MERGE of the
    jobs, retried when it loses a concurrent commit); the number of rows inserted."""
    return runtime.merge_table(rows, schema, table, keys=[key]).inserted


def served_version(spec: ResolvedSpec, runtime: Runtime) -> str | None:
    """The one version the endpoint serves now (None while traffic is split or off Databricks)."""
    if not runtime.on_databricks or not spec.model.serving.enabled:
        return None
    from databricks.sdk import WorkspaceClient

    from mlops_spec.naming import endpoint_name

    endpoint = WorkspaceClient().serving_endpoints.get(endpoint_name(runtime.env, spec.model.name))
    entities = (endpoint.config.served_entities or []) if endpoint.config else []
    versions = {e.entity_version for e in entities if e.entity_version}
    return versions.pop() if len(versions) == 1 else None


def run_unpack(spec: ResolvedSpec, runtime: Runtime, version: str | None = None) -> dict[str, Any]:
    model = spec.model
    payload = _spark_frame(runtime, *tables.payload(model.name))
    if payload is None:
        return {"requests": 0, "failed_requests": 0, "unattributed_rows": 0, "note": "no payload table yet"}
    done = _spark_frame(runtime, *tables.inference_log(model.name))
    if done is not None and "databricks_request_id" not in done.columns:
        done = None  # a batch-scored log: nothing in it came from the endpoint
    out = unpack(payload, model.data, model.name, version or served_version(spec, runtime), done)
    append_new(runtime, out.rows, *tables.inference_log(model.name))
    return out.summary()


def run_score(
    spec: ResolvedSpec, runtime: Runtime, client: Any, since: datetime | None = None
) -> dict[str, Any]:
    """Batch models: the feature table's rows newer than the log's, scored with the champion on Spark."""
    from pyspark.sql import functions as F

    from ml_jobs.registry.client import CHAMPION, version_by_alias

    model = spec.model
    data = model.data
    name = runtime.registered_name(model.name)
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        raise BadInput(f"{name} has no champion to score with")
    features = _spark_frame(runtime, tables.FEATURES_SCHEMA, data.table)
    if features is None:
        raise BadInput(f"feature table {tables.FEATURES_SCHEMA}.{data.table} does not exist")
    scored_log = _spark_frame(runtime, *tables.inference_log(model.name))
    if since is None and scored_log is not None:
        since = scored_log.agg(F.max("timestamp")).collect()[0][0]
    if since is not None:
        features = features.filter(F.col(data.timestamp_column) > F.lit(since))
    rows = score_frame(runtime.spark(), features, data, model.name, name, str(champion.version))
    append_new(runtime, rows, *tables.inference_log(model.name))
    return {"champion_version": str(champion.version), "since": str(since) if since else None}


def score_frame(spark: Any, features: Any, data: Any, model_name: str, registered: str, version: str) -> Any:
    """Score on the executors with ``mlflow.pyfunc.spark_udf`` (the version the champion alias names).

    The registered model is the served scorer (``ml_jobs.serving.model``): it answers ``score`` (the
    probability the monitor judges) and ``prediction`` (the label at the threshold), so batch rows
    carry both, exactly as an endpoint of that version answers.
    """
    import mlflow
    from pyspark.sql import functions as F

    from ml_jobs.serving.model import OUTPUT_COLUMNS

    udf = mlflow.pyfunc.spark_udf(
        spark,
        f"models:/{registered}/{version}",
        result_type="score double, prediction long",
        env_manager="local",
    )
    cols = [F.col(c) for c in data.features]
    answered = udf(F.struct(*cols))
    key = F.concat_ws("|", F.col(data.id_column).cast("string"), F.col(data.timestamp_column).cast("string"))
    score, prediction = OUTPUT_COLUMNS
    return features.select(
        F.sha2(key, 256).alias("request_id"),
        F.col(data.timestamp_column).cast("timestamp").alias("timestamp"),
        F.col(data.id_column).cast("string").alias(data.id_column),
        F.col(data.timestamp_column).cast("timestamp").alias(data.timestamp_column),
        *cols,
        F.lit(model_name).alias("model_name"),
        F.lit(version).alias("model_version"),
        answered[score].cast("double").alias("score"),
        answered[prediction].cast("bigint").alias("prediction"),
    )
