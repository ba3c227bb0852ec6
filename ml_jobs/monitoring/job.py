"""The monitor job: read the tables, run ``run_monitoring``, store and send what it found.

Reads the champion's training data (at the exact Delta version the champion was trained on) or a
baseline window as the reference, the model's inference log and its late labels; appends the
metrics of windows not recorded before to the metrics table; logs the HTML report to MLflow;
posts a webhook on drift; stores the retraining state; and asks for retraining when the decision
says so (the caller decides how: in-process locally, ``jobs.run_now`` on Databricks).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ml_jobs import tables
from ml_jobs.errors import BadInput
from ml_jobs.inference.labels import request_labels
from ml_jobs.inference.payload import served_rows
from ml_jobs.monitoring.alerting import RetrainState
from ml_jobs.monitoring.run import MonitoringResult, run_monitoring
from ml_jobs.monitoring.sinks import log_to_mlflow, post_webhook
from ml_jobs.runtime import Runtime, read_spark_table
from ml_jobs.spec import ResolvedSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorOutcome:
    result: MonitoringResult
    champion_version: str
    new_metric_rows: int
    retrain_requested: bool
    retrain_outcome: Any = None
    mlflow_run_id: str | None = None


def _read(runtime: Runtime, schema: str, table: str) -> tuple[Any, str]:
    """The log as the engine that fits the runtime wants it: Spark on Databricks, pandas locally."""
    if runtime.on_databricks:
        return read_spark_table(runtime.spark(), runtime.table_ref(schema, table)), "spark"
    frame, _ = runtime.read_table(schema, table)
    return frame, "numpy"


def _read_optional(runtime: Runtime, schema: str, table: str) -> Any | None:
    try:
        return _read(runtime, schema, table)[0]
    except BadInput:
        return None


def load_state(runtime: Runtime, model: str) -> RetrainState:
    frame = _read_optional(runtime, *tables.monitor_state(model))
    if frame is None:
        return RetrainState()
    if not isinstance(frame, pd.DataFrame):
        frame = frame.toPandas()
    if frame.empty:
        return RetrainState()
    latest = frame.sort_values("recorded_at").iloc[-1]
    return RetrainState.from_dict(json.loads(latest["state"]))


def save_state(runtime: Runtime, model: str, state: RetrainState, reason: str) -> None:
    row = pd.DataFrame(
        [{"recorded_at": datetime.now(UTC), "state": json.dumps(state.to_dict()), "reason": reason}]
    )
    runtime.write_table(row, *tables.monitor_state(model))


def reference_data(spec: ResolvedSpec, runtime: Runtime, champion: Any) -> pd.DataFrame | None:
    """The champion's training data at the version it was trained on, or None for a baseline window."""
    if spec.model.monitoring.reference == "baseline_window":
        return None
    from ml_jobs.registry.client import TAG_DATA_TABLE, TAG_DATA_VERSION

    full = champion.tags.get(TAG_DATA_TABLE)
    version = champion.tags.get(TAG_DATA_VERSION)
    if not full or version is None:
        raise BadInput(
            f"champion version {champion.version} has no data lineage tags; cannot read its reference"
        )
    from ml_jobs.data.schema import training_window

    schema, table = full.split(".")[-2:]
    frame, _ = runtime.read_table(schema, table, int(version))
    # The rows the champion was trained on: its table version, narrowed to its training window.
    return training_window(frame, spec.model.data)[list(spec.model.data.features)]


def prediction_baseline(champion: Any) -> Any | None:
    """The champion's held-out prediction profile, stored with its training run; None (with a
    warning) for a version trained before it was stored: then its first window is the baseline."""
    from ml_jobs.monitoring.profile import load_prediction_profile

    found = load_prediction_profile(champion.run_id or champion.tags.get("source_run_id"))
    if found is None:
        log.warning(
            "champion version %s has no stored prediction baseline; its first window stands in",
            champion.version,
        )
    return found


def new_rows(metrics: pd.DataFrame, state: RetrainState) -> pd.DataFrame:
    """Only windows an earlier run has not recorded (the log is re-read whole every run)."""
    if state.last_window_end is None or metrics.empty:
        return metrics
    ends = pd.to_datetime(metrics["window_end"], utc=True)
    return metrics[ends > pd.Timestamp(state.last_window_end)]


def monitor(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    *,
    trigger: Callable[[str], Any] | None = None,
    webhook_url: str | None = None,
    now: datetime | None = None,
) -> MonitorOutcome:
    """Run one monitoring pass. ``trigger(reason)`` starts retraining when the decision says so."""
    import mlflow

    from ml_jobs.registry.client import experiment, version_by_alias
    from mlops_spec.naming import experiment_path

    model = spec.model
    name = runtime.registered_name(model.name)
    champion = version_by_alias(client, name, "champion")
    if champion is None:
        raise BadInput(f"{name} has no champion to monitor; promote a version first")
    log_frame, engine = _read(runtime, *tables.inference_log(model.name))
    # Answered requests only; labels in the contract's shape matched to them (ml_jobs.inference).
    log_frame = served_rows(log_frame)
    labels = request_labels(log_frame, _read_optional(runtime, *tables.labels(model.name)), model.data)
    state = load_state(runtime, model.name)
    reference = reference_data(spec, runtime, champion)
    prediction_reference = prediction_baseline(champion)
    reference_auc = (
        client.get_run(champion.run_id).data.metrics.get("test_roc_auc") if champion.run_id else None
    )
    exp = experiment(client, runtime, experiment_path(runtime.env, model.name))
    with mlflow.start_run(experiment_id=exp.experiment_id, run_name=f"monitor-{model.name}") as run:
        report_dir = (runtime.root / "reports" / run.info.run_id) if runtime.root else None
        result = run_monitoring(
            reference,
            log_frame,
            labels,
            model.monitoring,
            numeric_features=model.data.numeric_features,
            categorical_features=model.data.categorical_features,
            model_name=model.name,
            model_version=str(champion.version),
            engine=engine,  # type: ignore[arg-type]
            state=state,
            reference_performance=reference_auc,
            report_dir=report_dir,
            now=now,
            prediction_reference=prediction_reference,
            served_version=str(champion.version),
        )
        fresh = new_rows(result.metrics, state)
        if not fresh.empty:
            runtime.write_table(fresh, *tables.drift_metrics(model.name))
        log_to_mlflow(result.report_path, result.metrics, result.profile.to_json())
        mlflow.set_tags(
            {
                "job": "monitor",
                "champion_version": str(champion.version),
                "drift_detected": str(result.drift_detected).lower(),
                "retrain": str(result.decision.retrain).lower(),
            }
        )
        mlflow.log_metric("new_windows", float(fresh["window_end"].nunique()) if not fresh.empty else 0.0)
    url = webhook_url or model.monitoring.webhook_url
    if url and result.drift_detected and not fresh.empty:
        post_webhook(
            url,
            {
                "model": name,
                "env": runtime.env,
                "champion": champion.version,
                "decision": result.decision.reason,
                "drifted": result.drifted_columns,
            },
        )
    save_state(runtime, model.name, result.decision.state, result.decision.reason)
    outcome = None
    if result.decision.retrain and trigger is not None:
        log.info("retraining %s: %s", name, result.decision.reason)
        outcome = trigger(result.decision.reason)
    return MonitorOutcome(
        result, str(champion.version), len(fresh), result.decision.retrain, outcome, run.info.run_id
    )
