"""Served predictions: the endpoint's inference table, unpacked into the predictions table on Spark.

The stacks enable AI Gateway inference tables on every endpoint (``infra/constructs/serving.py``):
Databricks writes each request to ``<catalog>.inference_logs.<model>_payload`` (``table_name_prefix``
is the model name). Its documented schema ("AI Gateway-enabled inference table schema",
https://docs.databricks.com/aws/en/ai-gateway/inference-tables; legacy payload tables stop on
2026-03-20 per https://docs.databricks.com/aws/en/machine-learning/model-serving/inference-tables):

==========================  ==============  ===============================================
column                      type            what this module does with it
==========================  ==============  ===============================================
``request_date``            DATE            prunes the read to days not unpacked yet
``databricks_request_id``   STRING          the key: every request is unpacked once
``client_request_id``       STRING          kept (a client may label by it)
``request_time``            TIMESTAMP       ``timestamp`` of every row of the request
``status_code``             INT             not 200: counted as failed, one row, no prediction
``sampling_fraction``       DOUBLE          kept (1.0 = every request logged)
``execution_duration_ms``   BIGINT          kept
``request``                 STRING (JSON)   the scoring request: ``dataframe_split`` or ``dataframe_records``
``response``                STRING (JSON)   ``{"predictions": [...]}``, one element per request row
``served_entity_id``        STRING          kept; the version comes from ``model_version`` below
``logging_error_codes``     ARRAY<STRING>   not used
``requester``               STRING          not used
==========================  ==============  ===============================================

Request bodies follow Model Serving's scoring formats ("Query serving endpoints for custom models",
https://docs.databricks.com/aws/en/machine-learning/model-serving/score-custom-model-endpoints):
``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` or
``{"dataframe_records": [{col: value, ...}, ...]}``. Clients send the model's features plus its
``data.id_column`` (and ``data.timestamp_column`` when they have it): the id is what labels join on
(``ml_jobs.inference.labels``); Model Serving ignores columns outside the signature. A prediction is
an object with ``score``/``prediction`` (the served scorer), ``[p0, p1]`` (class probabilities) or a
bare class label (then ``score`` is null).

The served version: a prediction object's ``model_version`` when the model returns it, else the one
version the endpoint serves (``served_version``, read from the endpoint by the job), else null. The
serving API does not map ``served_entity_id`` to a version, so during a canary split rows without a
``model_version`` stay unattributed (counted) and the monitor, which judges one version's rows, skips
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_spec.config.model_spec import DataSpec

OK = 200
SOURCE_SERVED = "served"
PAYLOAD_COLUMNS = (
    ("request_date", "date"),
    ("databricks_request_id", "string"),
    ("client_request_id", "string"),
    ("request_time", "timestamp"),
    ("status_code", "int"),
    ("sampling_fraction", "double"),
    ("execution_duration_ms", "bigint"),
    ("request", "string"),
    ("response", "string"),
    ("served_entity_id", "string"),
    ("logging_error_codes", "array<string>"),
    ("requester", "string"),
)
"""The documented schema, as Spark DDL types (tests build payload tables from it)."""


def payload_ddl() -> str:
    return ", ".join(f"{name} {kind}" for name, kind in PAYLOAD_COLUMNS)


@dataclass(frozen=True)
class Unpacked:
    rows: Any
    """Spark DataFrame in the predictions table's shape (``prediction_columns``)."""
    requests: int
    failed_requests: int
    unattributed_rows: int

    def summary(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "unattributed_rows": self.unattributed_rows,
        }


def prediction_columns(data: DataSpec) -> list[str]:
    """The predictions table as unpacking writes it (batch scoring writes the same columns)."""
    return [
        "request_id",
        "timestamp",
        data.id_column,
        data.timestamp_column,
        *data.features,
        "model_name",
        "model_version",
        "score",
        "prediction",
        "databricks_request_id",
        "client_request_id",
        "status_code",
        "source",
    ]


def _feature_types(data: DataSpec) -> dict[str, str]:
    types = {c: "double" for c in data.numeric_features}
    types.update({c: "string" for c in data.categorical_features})
    types[data.id_column] = "string"
    types[data.timestamp_column] = "timestamp"
    return types


def unpack(
    payload: Any,
    data: DataSpec,
    model_name: str,
    served_version: str | None = None,
    done: Any | None = None,
) -> Unpacked:
    """Unpack every request of ``payload`` not in ``done`` (a DataFrame with ``databricks_request_id``).

    Pure Spark: no table is read or written here, so the job decides where rows go and a test can
    feed a payload table built in the documented schema.
    """
    from pyspark.sql import functions as F

    if done is not None:
        payload = payload.join(
            done.select("databricks_request_id").distinct(), "databricks_request_id", "left_anti"
        )
    types = _feature_types(data)
    columns = list(types)
    row_struct = ", ".join(f"`{c}` string" for c in columns)
    request_schema = (
        f"struct<dataframe_split: struct<columns: array<string>, data: array<array<string>>>, "
        f"dataframe_records: array<struct<{row_struct}>>>"
    )
    parsed = payload.withColumn("_req", F.from_json("request", request_schema)).withColumn(
        "_pred", F.from_json("response", "struct<predictions: array<string>>").getField("predictions")
    )
    split = F.col("_req.dataframe_split")
    # One array of string arrays per request, in ``columns`` order, whatever format it came in.
    from_split = F.transform(
        split.getField("data"),
        lambda row: F.array(
            *[F.element_at(row, F.array_position(split.getField("columns"), c).cast("int")) for c in columns]
        ),
    )
    from_records = F.transform(
        F.col("_req.dataframe_records"), lambda rec: F.array(*[rec.getField(c) for c in columns])
    )
    rows = F.coalesce(F.when(split.isNotNull(), from_split), from_records)
    ok = F.col("status_code") == OK
    exploded = parsed.select(
        "*",
        F.posexplode_outer(F.when(ok, rows).otherwise(F.array(F.lit(None).cast("array<string>")))).alias(
            "_pos", "_row"
        ),
    )
    pred = F.element_at(F.col("_pred"), (F.col("_pos") + 1).cast("int"))
    pred_score = F.coalesce(
        F.get_json_object(pred, "$.score").cast("double"), F.get_json_object(pred, "$[1]").cast("double")
    )
    scalar = F.when(~pred.startswith("{") & ~pred.startswith("["), pred.cast("double"))
    pred_class = F.coalesce(
        F.get_json_object(pred, "$.prediction").cast("double"),
        scalar,
        F.when(pred_score.isNotNull(), (pred_score >= 0.5).cast("double")),
    )
    version = F.coalesce(F.get_json_object(pred, "$.model_version"), F.lit(served_version))
    out = exploded.select(
        F.concat_ws("-", "databricks_request_id", F.coalesce(F.col("_pos"), F.lit(0))).alias("request_id"),
        F.col("request_time").alias("timestamp"),
        *[
            F.col("_row")[i].cast(kind).alias(c)
            for i, (c, kind) in enumerate(types.items())
            if c != data.timestamp_column
        ],
        F.coalesce(
            F.col("_row")[columns.index(data.timestamp_column)].cast("timestamp"), F.col("request_time")
        ).alias(data.timestamp_column),
        F.lit(model_name).alias("model_name"),
        F.when(ok, version).alias("model_version"),
        F.when(ok, pred_score).alias("score"),
        F.when(ok, pred_class.cast("bigint")).alias("prediction"),
        "databricks_request_id",
        "client_request_id",
        "status_code",
        F.lit(SOURCE_SERVED).alias("source"),
    ).select(*prediction_columns(data))
    counts = payload.agg(
        F.count(F.lit(1)).alias("requests"), F.sum(F.when(~ok, 1).otherwise(0)).alias("failed")
    ).collect()[0]
    unattributed = out.filter(F.col("status_code") == OK).filter(F.col("model_version").isNull()).count()
    return Unpacked(out, int(counts["requests"]), int(counts["failed"] or 0), int(unattributed))


def served_rows(log: Any) -> Any:
    """The rows the monitor judges: answered requests only (pandas or Spark; a log without
    ``status_code``, i.e. batch scoring's, is returned as is)."""
    if "status_code" not in log.columns:
        return log
    if hasattr(log, "toPandas"):
        from pyspark.sql import functions as F

        return log.filter(F.col("status_code").isNull() | (F.col("status_code") == OK))
    keep = log["status_code"].isna() | (log["status_code"] == OK)
    return log[keep.to_numpy(dtype=bool)]
