"""The demo's training data through feature tables: source rows -> feature job -> label table ->
point-in-time training set (``data.table``), exactly what the scheduled jobs do on Databricks."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ml_jobs.features.job import build_training_set, refresh, write_labels
from ml_jobs.runtime import Runtime
from mlops_spec.config.features import tables_of
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.naming import FEATURES_SCHEMA


def load_training_data(
    runtime: Runtime,
    model: ModelSpec,
    models: list[ModelSpec],
    rows: pd.DataFrame,
    out: Callable[[str], None],
) -> int:
    """Write ``rows`` as the feature sources and the labels, run the feature job, build the training
    table; returns the training table's Delta version."""
    data = model.data
    for table in tables_of(model, models):
        runtime.write_table(rows, FEATURES_SCHEMA, table.source, mode="overwrite")
        result = refresh(runtime, table)
        out(
            f"[demo] feature job: {result['inserted']} rows merged into features.{table.name} "
            f"(v{result['version']}; keys {', '.join(table.keys)})"
        )
    write_labels(runtime, model, rows[[data.id_column, data.timestamp_column, data.label]])
    built = build_training_set(runtime, model, models)
    out(
        f"[demo] training set: {built['rows']} label rows with point-in-time features -> "
        f"features.{data.table} v{built['version']}"
    )
    return int(built["version"])


def add_feature_rows(runtime: Runtime, model: ModelSpec, models: list[ModelSpec], rows: pd.DataFrame) -> None:
    """New source rows (a day of traffic) into the feature sources, then the feature job over them."""
    for table in tables_of(model, models):
        runtime.write_table(rows, FEATURES_SCHEMA, table.source, mode="append")
        refresh(runtime, table)
