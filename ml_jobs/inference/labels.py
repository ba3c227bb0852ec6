"""The labels contract: what a team's label pipeline writes, and how the monitor matches it to requests.

Table ``<catalog>.inference_logs.<model>_labels``: created by the stacks (``infra/constructs/labels.py``,
a managed Delta table owned by the model-owner group), written by the team's label pipeline
(``monitoring.labels_writer``, default the model's ``owner_group``: SELECT and MODIFY on the table, USE
on its catalog and schema), read by the monitor; the ``maintain`` task deletes labels whose
``label_timestamp`` is older than ``monitoring.retention_days`` (``ml_jobs.inference.retention``).
Columns (``mlops_spec.tables.contract_columns``):

=========================  =========  ====================================================
column                     type       meaning
=========================  =========  ====================================================
``<data.id_column>``       STRING     the entity the label is about (``customer_id``)
``<data.label>``           BIGINT     the outcome, 0 or 1 (``churned``)
``label_timestamp``        TIMESTAMP  when the outcome became known
=========================  =========  ====================================================

A label row labels every prediction of the same id made at or before ``label_timestamp`` and after
that id's previous label: the first label known after a prediction is its outcome. Labels may
arrive weeks late: every run re-reads both tables, so a window whose labels arrive later gets its
realised performance then. A labels table keyed by ``request_id`` (``request_id``, ``label``,
``label_timestamp``: the local demo's and earlier releases' shape) is used as it is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ml_jobs.monitoring.schema import LogSchema
from mlops_spec.config.model_spec import DataSpec
from mlops_spec.tables import LABEL_TIMESTAMP, contract_columns


def request_labels(log: Any, labels: Any, data: DataSpec, schema: LogSchema = LogSchema()) -> Any:
    """``labels`` as ``request_id, label, label_timestamp`` rows for the requests in ``log``.

    pandas in, pandas out; Spark in, Spark out. ``None`` stays ``None`` (no labels yet).
    """
    if labels is None or schema.request_id in labels.columns:
        return labels
    missing = [c for c, _, _ in contract_columns(data) if c not in labels.columns]
    if missing:
        from ml_jobs.errors import BadInput

        raise BadInput(
            f"labels table lacks {missing}; the contract is {[c for c, _, _ in contract_columns(data)]} "
            f"(or request_id, label, label_timestamp)"
        )
    if hasattr(log, "toPandas"):
        return _spark(log, labels, data, schema)
    return _pandas(log, labels, data, schema)


def _pandas(log: pd.DataFrame, labels: pd.DataFrame, data: DataSpec, schema: LogSchema) -> pd.DataFrame:
    out_columns = [schema.request_id, schema.label, schema.label_timestamp]
    if log.empty or labels.empty:
        return pd.DataFrame(columns=out_columns)
    left = log[[schema.request_id, data.id_column, schema.timestamp]].copy()
    left[data.id_column] = left[data.id_column].astype(str)
    right = labels[[data.id_column, data.label, LABEL_TIMESTAMP]].copy()
    right[data.id_column] = right[data.id_column].astype(str)
    joined = left.merge(right, on=data.id_column, how="inner")
    ts = pd.to_datetime(joined[schema.timestamp], utc=True)
    known = pd.to_datetime(joined[LABEL_TIMESTAMP], utc=True)
    joined = joined[(known >= ts).to_numpy()]
    first = joined.sort_values([schema.request_id, LABEL_TIMESTAMP], kind="stable").drop_duplicates(
        schema.request_id
    )
    return pd.DataFrame(
        {
            schema.request_id: first[schema.request_id].to_numpy(),
            schema.label: first[data.label].to_numpy().astype("int64"),
            schema.label_timestamp: pd.to_datetime(first[LABEL_TIMESTAMP], utc=True).to_numpy(),
        }
    )


def _spark(log: Any, labels: Any, data: DataSpec, schema: LogSchema) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    left = log.select(
        schema.request_id, F.col(data.id_column).cast("string").alias("_id"), F.col(schema.timestamp)
    )
    right = labels.select(
        F.col(data.id_column).cast("string").alias("_id"),
        F.col(data.label).cast("bigint").alias(schema.label),
        F.col(LABEL_TIMESTAMP).alias(schema.label_timestamp),
    )
    joined = left.join(right, "_id").filter(F.col(schema.label_timestamp) >= F.col(schema.timestamp))
    first = Window.partitionBy(schema.request_id).orderBy(schema.label_timestamp)
    return (
        joined.withColumn("_n", F.row_number().over(first))
        .filter("_n = 1")
        .select(schema.request_id, schema.label, schema.label_timestamp)
    )
