"""What the feature entry points do: refresh feature tables, build a training set, report freshness.

* ``refresh``: the feature function over the table's source, MERGEd into the table on its keys
  (``ml_jobs.features.store``: exactly once, kill-safe, constraints enforced at write time).
* ``build_training_set``: the model's label table, each row given its features as of the label's
  timestamp (``ml_jobs.features.pit``), written as the model's training table (``data.table``), which
  ``train``, ``validate`` and ``monitor`` read at a Delta version as before. Nothing is written when the
  result equals the table's latest version, so a re-run trains nothing new.
* ``freshness``: the age of each table's newest row against the freshness its spec expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ml_jobs.errors import BadInput
from ml_jobs.features import pit, store
from ml_jobs.features.functions import FUNCTIONS
from ml_jobs.runtime import Runtime, read_spark_table
from mlops_spec.config.features import FeatureTableSpec, tables_of
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.naming import FEATURES_SCHEMA


def refresh(runtime: Runtime, table: FeatureTableSpec) -> dict[str, Any]:
    """Compute the table's features from its source and insert the rows it lacks."""
    layout = store.feature_layout(table)
    store.ensure_table(runtime, layout)
    pandas_fn, spark_fn = FUNCTIONS[table.function]
    if runtime.on_databricks:
        source = read_spark_table(runtime.spark(), runtime.table_ref(FEATURES_SCHEMA, table.source))
        rows: Any = spark_fn(source, table)
    else:
        source_frame, _ = runtime.read_table(FEATURES_SCHEMA, table.source)
        rows = pandas_fn(source_frame, table)
    inserted = store.merge(runtime, layout, rows)
    return {
        "table": table.name,
        "inserted": inserted,
        "version": runtime.table_version(FEATURES_SCHEMA, table.name),
    }


def write_labels(runtime: Runtime, model: ModelSpec, rows: pd.DataFrame, marker: str | None = None) -> int:
    """Label rows into the model's label table (NOT NULL keys, CHECK on the label); rows inserted
    (by the commit ``marker`` names, when an earlier attempt already wrote it)."""
    assert model.features is not None
    layout = store.label_layout(model.features.labels, model.data)
    store.ensure_table(runtime, layout)
    return store.merge(runtime, layout, rows, marker)


def training_frame(
    runtime: Runtime, model: ModelSpec, models: Sequence[ModelSpec]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Label rows with their point-in-time features, and the Delta version of every table read."""
    if model.features is None:
        raise BadInput(f"model {model.name} declares no feature tables (features: in models.yaml)")
    data = model.data
    labels, version = store.read(runtime, model.features.labels)
    versions = {model.features.labels: version}
    frame: Any = runtime.spark().createDataFrame(labels) if runtime.on_databricks else labels
    for table in tables_of(model, models):
        features, versions[table.name] = store.read(runtime, table.name)
        if runtime.on_databricks:
            frame = pit.lookup_spark(
                frame,
                runtime.spark().createDataFrame(features),
                table.primary_key,
                data.timestamp_column,
                table.timestamp_key,
                table.features,
            )
        else:
            frame = pit.lookup(
                frame, features, table.primary_key, data.timestamp_column, table.timestamp_key, table.features
            )
    if runtime.on_databricks:
        frame = frame.toPandas()
    return frame.reset_index(drop=True), versions


def _same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> bool:
    if sorted(a.columns) != sorted(b.columns) or len(a) != len(b):
        return False
    cols = sorted(a.columns)
    left = a[cols].sort_values(keys).reset_index(drop=True)
    right = b[cols].sort_values(keys).reset_index(drop=True)
    return bool(left.astype(str).equals(right.astype(str)))


def build_training_set(runtime: Runtime, model: ModelSpec, models: Sequence[ModelSpec]) -> dict[str, Any]:
    frame, versions = training_frame(runtime, model, models)
    data = model.data
    keys = [data.id_column, data.timestamp_column]
    missing = int(frame[list(data.features)].isna().all(axis=1).sum())
    try:
        current, current_version = runtime.read_table(FEATURES_SCHEMA, data.table)
    except BadInput:
        current, current_version = None, None
    if current is not None and _same(frame, current, keys):
        written, version = False, current_version
    else:
        version, written = runtime.write_table(frame, FEATURES_SCHEMA, data.table, mode="overwrite"), True
    return {
        "table": data.table,
        "version": version,
        "written": written,
        "rows": len(frame),
        "rows_without_features": missing,
        "read_versions": versions,
    }


@dataclass(frozen=True)
class Freshness:
    table: str
    newest: str | None
    age_hours: float | None
    max_age_hours: int
    status: str
    """fresh, stale, empty or missing."""


def freshness(
    runtime: Runtime, tables: Sequence[FeatureTableSpec], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per feature table: the age of its newest row against ``max_age_hours`` (its expected schedule)."""
    now = now or datetime.now(UTC)
    out = []
    for table in tables:
        try:
            newest = store.newest_timestamp(runtime, store.feature_layout(table))
        except BadInput:
            out.append(Freshness(table.name, None, None, table.max_age_hours, "missing"))
            continue
        if newest is None:
            out.append(Freshness(table.name, None, None, table.max_age_hours, "empty"))
            continue
        age = (pd.Timestamp(now) - newest).total_seconds() / 3600
        status = "stale" if age > table.max_age_hours else "fresh"
        out.append(Freshness(table.name, newest.isoformat(), round(age, 2), table.max_age_hours, status))
    return [asdict(f) for f in out]


def model_freshness(runtime: Runtime, model: ModelSpec, models: Sequence[ModelSpec]) -> list[dict[str, Any]]:
    return freshness(runtime, tables_of(model, models))
