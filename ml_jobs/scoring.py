"""Batch scoring with the ``champion`` alias: the local stand-in for a serving endpoint.

Each scored row becomes a request in the model's inference log (request id, timestamp, model name
and version, the features, prediction and score), the table the monitor reads. The scores come
from the served model itself (``ml_jobs.serving.model``), so the log holds what an endpoint
answers. A request id is derived from the row's id and timestamp: scoring the same rows again
adds nothing to the log.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd

from ml_jobs.errors import BadInput
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from mlops_spec import tables

REQUEST_NAMESPACE = uuid.UUID("5b0c3a9e-31f6-4d63-9a55-6c7b1f0f2a11")
LABELS_KEYS = ("request_id", "label_timestamp")
"""The local stand-in's labels are keyed by the request they answer (the contract's by entity id)."""


def score_batch(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    frame: pd.DataFrame,
    timestamp_column: str | None = None,
) -> pd.DataFrame:
    """Score ``frame`` with the champion and append it to the inference log; returns the log rows."""
    from ml_jobs.registry.client import CHAMPION, version_by_alias
    from ml_jobs.serving import model as served_model
    from ml_jobs.training.pipeline import features

    data = spec.model.data
    name = runtime.registered_name(spec.model.name)
    champion = version_by_alias(client, name, CHAMPION)
    if champion is None:
        raise BadInput(f"{name} has no champion to score with")
    scored = served_model.score(
        served_model.load(f"models:/{name}/{champion.version}"), features(frame, data)
    )
    ts = frame[timestamp_column or data.timestamp_column]
    keep = [data.id_column, data.timestamp_column, *data.features]
    log = frame[keep].copy().reset_index(drop=True)
    ids = zip(
        log[data.id_column].astype(str), pd.to_datetime(log[data.timestamp_column], utc=True), strict=True
    )
    log.insert(0, "request_id", [str(uuid.uuid5(REQUEST_NAMESPACE, f"{i}|{t.isoformat()}")) for i, t in ids])
    log.insert(1, "timestamp", pd.to_datetime(ts, utc=True).reset_index(drop=True))
    log["model_name"] = spec.model.name
    log["model_version"] = str(champion.version)
    log["score"] = scored["score"].to_numpy()
    log["prediction"] = scored["prediction"].to_numpy()
    runtime.merge_table(log, *tables.inference_log(spec.model.name), keys=tables.INFERENCE_LOG_KEYS)
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
    runtime.merge_table(frame, *tables.labels(model), keys=LABELS_KEYS)
