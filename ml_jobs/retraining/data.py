"""Labelled production data: the inference log joined with late labels, in the training table's shape."""

from __future__ import annotations

import pandas as pd

from ml_jobs.errors import BadInput
from ml_jobs.monitoring.schema import LogSchema
from ml_jobs.runtime import Runtime
from mlops_spec import tables
from mlops_spec.config.model_spec import DataSpec


def labelled_production(
    runtime: Runtime, model: str, data: DataSpec, schema: LogSchema = LogSchema()
) -> tuple[pd.DataFrame, tuple[int | None, int | None]]:
    """Scored requests whose label has arrived, with the training table's columns (empty when none),
    and the versions of the inference log and the labels table read."""
    columns = [data.id_column, data.timestamp_column, *data.features, data.label]
    try:
        log, log_version = runtime.read_table(*tables.inference_log(model))
        labels, labels_version = runtime.read_table(*tables.labels(model))
    except BadInput:
        return pd.DataFrame(columns=columns), (None, None)
    if schema.label_timestamp in labels.columns:  # a corrected label replaces the earlier one
        labels = labels.sort_values(schema.label_timestamp, kind="stable")
    labels = labels.drop_duplicates(schema.request_id, keep="last")
    joined = log.merge(labels[[schema.request_id, schema.label]], on=schema.request_id, how="inner")
    missing = [c for c in (data.id_column, data.timestamp_column, *data.features) if c not in joined.columns]
    if missing:
        raise BadInput(f"inference log of {model} lacks training columns {missing}; cannot retrain from it")
    joined = joined.rename(columns={schema.label: data.label})
    frame = joined[columns].sort_values(data.timestamp_column, kind="stable").reset_index(drop=True)
    return frame, (log_version, labels_version)


def split_holdout(
    frame: pd.DataFrame, data: DataSpec, holdout_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to train on, the newest ``holdout_days`` kept apart to compare the two models)."""
    if frame.empty:
        return frame, frame
    ts = pd.to_datetime(frame[data.timestamp_column], utc=True)
    cutoff = ts.max() - pd.Timedelta(days=holdout_days)
    return frame[ts <= cutoff], frame[ts > cutoff]
