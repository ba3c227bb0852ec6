"""Batch scoring with the ``champion`` alias: the local stand-in for a serving endpoint.

Each scored row becomes a request in the model's inference log (request id, timestamp, model name
and version, the features, prediction and score), the table the monitor reads.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd

from ml_jobs.errors import BadInput
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from mlops_spec import tables

THRESHOLD = 0.5


def score_batch(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    frame: pd.DataFrame,
    timestamp_column: str | None = None,
) -> pd.DataFrame:
    """Score ``frame`` with the champion and append it to the inference log; returns the log rows."""
    import mlflow

    from ml_jobs.registry.client import CHAMPION, version_by_alias
    from ml_jobs.training.pipeline import features, predict_proba

    data = spec.model.data
    name = runtime.registered_name(spec.model.name)
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        raise BadInput(f"{name} has no champion to score with")
    model = mlflow.sklearn.load_model(f"models:/{name}@{CHAMPION}")
    score = predict_proba(model, features(frame, data))
    ts = frame[timestamp_column or data.timestamp_column]
    keep = [data.id_column, data.timestamp_column, *data.features]
    log = frame[keep].copy()
    log.insert(0, "request_id", [str(uuid.UUID(int=uuid.uuid4().int)) for _ in range(len(frame))])
    log.insert(1, "timestamp", pd.to_datetime(ts, utc=True))
    log["model_name"] = spec.model.name
    log["model_version"] = str(champion.version)
    log["score"] = score.astype("float64")
    log["prediction"] = (score >= THRESHOLD).astype("int64")
    runtime.write_table(log, *tables.inference_log(spec.model.name))
    return log


def write_labels(
    runtime: Runtime, model: str, log: pd.DataFrame, labels: pd.Series, arrived: pd.Series
) -> None:
    """Ground truth arriving later, keyed by request id (the monitor and retrain join on it)."""
    frame = pd.DataFrame(
        {
            "request_id": log["request_id"].to_numpy(),
            "label": labels.to_numpy().astype("int64"),
            "label_timestamp": pd.to_datetime(arrived, utc=True).to_numpy(),
        }
    )
    runtime.write_table(frame, *tables.labels(model))
