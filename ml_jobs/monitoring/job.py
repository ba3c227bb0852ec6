"""The monitor job: read the tables, run ``run_monitoring``, store and send what it found.

Reads the champion's training data (at the exact Delta version the champion was trained on) or a
baseline window as the reference, the model's inference log and its late labels, then:

1. merges the metrics of windows not counted before into the metrics table (natural key: window,
   drift type, column, metric, model version), and logs the HTML report to MLflow; in the same
   MERGE, an earlier window's performance rows that its late labels changed are updated (their
   value, threshold, breach and status), so the table holds each window's realised performance;
2. posts a webhook on drift, retried with backoff; a webhook that stays down is recorded as an
   alert failure (MLflow tag, result, exit code) and blocks nothing;
3. when retraining is decided (or one decided earlier has not run), saves the state with that
   request *pending*, then starts it under a request id derived from the decision, so any re-run
   starts the same retraining, not a second;
4. saves the final state only now, when the trigger's outcome is known: a retraining that was
   refused, failed or disabled (``--no-retrain``) stays pending and is started by the next run;
   only one that ran clears it and starts the cooldown (from the end of the deciding window).

Killed anywhere, a re-run converges: before the pending state it recomputes the same windows and
decision (the metrics MERGE adds nothing twice); after it, the windows are counted and the pending
request is started again, which returns the retraining's recorded decision if it already ran.
State rows are keyed by their content, so the same state is never stored twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ml_jobs.errors import BadInput, JobError
from ml_jobs.inference.labels import request_labels
from ml_jobs.inference.payload import served_rows
from ml_jobs.monitoring.alerting import RetrainState
from ml_jobs.monitoring.run import PERFORMANCE_COLUMN, PERFORMANCE_VALUES, MonitoringResult, run_monitoring
from ml_jobs.monitoring.sinks import AlertError, log_to_mlflow, post_webhook
from ml_jobs.runtime import Runtime, TableMissing, read_spark_table
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training.lineage import stable_hash
from ml_jobs.trigger import episode_token
from mlops_spec import tables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainRequest:
    request_id: str
    reason: str


Trigger = Callable[[RetrainRequest], Any]


@dataclass(frozen=True)
class MonitorOutcome:
    result: MonitoringResult
    champion_version: str
    new_metric_rows: int
    retrain_requested: bool
    retrain_outcome: Any = None
    mlflow_run_id: str | None = None
    request: RetrainRequest | None = None
    retrain_error: str | None = None
    """Why the retraining could not start; it stays pending."""
    alert: str = "none"
    """none (nothing to send), sent, failed (after retries), or disabled (no webhook configured)."""
    alert_error: str | None = None
    state: RetrainState | None = None


def _read(runtime: Runtime, schema: str, table: str) -> tuple[Any, str]:
    """The log as the engine that fits the runtime wants it: Spark on Databricks, pandas locally."""
    if runtime.on_databricks:
        return read_spark_table(runtime.spark(), runtime.table_ref(schema, table)), "spark"
    frame, _ = runtime.read_table(schema, table)
    return frame, "numpy"


def _read_optional(runtime: Runtime, schema: str, table: str) -> Any | None:
    """The table, or None when it does not exist yet (first run); any other failure is raised."""
    try:
        return _read(runtime, schema, table)[0]
    except TableMissing:
        return None


def _recorded_performance(runtime: Runtime, model: str) -> pd.DataFrame | None:
    """The metrics table's performance rows (filtered in Spark on Databricks), or None before any."""
    frame = _read_optional(runtime, *tables.drift_metrics(model))
    if frame is None:
        return None
    if not isinstance(frame, pd.DataFrame):
        return frame.where(frame["column"] == PERFORMANCE_COLUMN).toPandas()
    return frame


def load_state(runtime: Runtime, model: str) -> RetrainState:
    frame = _read_optional(runtime, *tables.monitor_state(model))
    if frame is None:
        return RetrainState()
    if not isinstance(frame, pd.DataFrame):
        frame = frame.toPandas()
    if frame.empty:
        return RetrainState()
    latest = frame.sort_values(["recorded_at", "state_id"] if "state_id" in frame else "recorded_at").iloc[-1]
    return RetrainState.from_dict(json.loads(latest["state"]))


def _state_schema() -> Any:
    """The state table's column types (``reason`` may be null in a whole batch)."""
    import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information

    return pa.schema(
        [
            ("state_id", pa.string()),
            ("recorded_at", pa.timestamp("us", tz="UTC")),
            ("state", pa.string()),
            ("reason", pa.string()),
        ]
    )


def save_state(runtime: Runtime, model: str, state: RetrainState, reason: str) -> bool:
    """Store the state as a row keyed by its content: an identical state (a re-run's) adds nothing."""
    text = json.dumps(state.to_dict(), sort_keys=True)
    row = pd.DataFrame(
        [
            {
                "state_id": stable_hash(text, 24),
                "recorded_at": datetime.now(UTC),
                "state": text,
                "reason": reason,
            }
        ]
    )
    merged = runtime.merge_table(
        row,
        *tables.monitor_state(model),
        keys=tables.MONITOR_STATE_KEYS,
        arrow_schema=_state_schema(),
    )
    return merged.inserted > 0


def reference_data(spec: ResolvedSpec, runtime: Runtime, champion: Any) -> pd.DataFrame | None:
    """The champion's training data at the version it was trained on, or None for a baseline window."""
    if spec.model.monitoring.reference == "baseline_window":
        return None
    from ml_jobs.registry.client import TAG_DATA_TABLE, TAG_DATA_VERSION, tag

    full = tag(champion, TAG_DATA_TABLE)
    version = tag(champion, TAG_DATA_VERSION)
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


def restated_performance(
    recorded: pd.DataFrame | None, metrics: pd.DataFrame, state: RetrainState
) -> pd.DataFrame:
    """Performance rows of windows recorded before whose values differ from the table's (late labels
    arrived since), or that the table lacks (a confidence bound once there are labels). Only windows
    recorded under the same model version: a window is never judged again under another one."""
    if state.last_window_end is None or metrics.empty or recorded is None or recorded.empty:
        return metrics.iloc[0:0]
    ends = pd.to_datetime(metrics["window_end"], utc=True)
    earlier = metrics[
        (ends <= pd.Timestamp(state.last_window_end)) & (metrics["column"] == PERFORMANCE_COLUMN)
    ]
    if earlier.empty:
        return earlier
    window = ["window_start", "granularity", "drift_type", "model_version"]
    keys = list(tables.DRIFT_METRICS_KEYS)
    ours, theirs = _keyed(earlier, keys), _keyed(recorded[recorded["column"] == PERFORMANCE_COLUMN], keys)
    known = set(map(tuple, theirs[[f"_k_{k}" for k in window]].drop_duplicates().to_numpy().tolist()))
    in_known = [tuple(r) in known for r in ours[[f"_k_{k}" for k in window]].to_numpy().tolist()]
    ours = ours[pd.Series(in_known, index=ours.index, dtype=bool)]
    joined = ours.merge(
        theirs[[f"_k_{k}" for k in keys] + list(PERFORMANCE_VALUES)],
        on=[f"_k_{k}" for k in keys],
        how="left",
        suffixes=("", "_recorded"),
        indicator=True,
    )
    changed = joined["_merge"] == "left_only"
    for column in PERFORMANCE_VALUES:
        changed |= ~_same(joined[column], joined[f"{column}_recorded"])
    return earlier.loc[ours.index[changed.to_numpy()]]


def _keyed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` with its key columns as comparable text (timestamps in UTC, whatever their unit)."""
    out = frame.copy()
    for k in keys:
        column = out[k]
        if k.startswith("window_"):
            column = pd.to_datetime(column, utc=True).map(lambda t: t.isoformat())
        out[f"_k_{k}"] = column.astype(str)
    return out


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Equal, both missing, or (floats) equal to the table's precision."""
    both_missing = a.isna() & b.isna()
    try:
        close = (a.astype(float) - b.astype(float)).abs() <= 1e-12
    except (TypeError, ValueError):
        close = a.astype(str) == b.astype(str)
    return both_missing | close.fillna(False).astype(bool)


def request_for(
    runtime: Runtime, model: str, state: RetrainState, decided: RetrainState, reason: str
) -> RetrainRequest:
    """The retraining to start: the pending one, else a new one named after its breach episode (the
    last window judged when it was decided: ``ml_jobs.trigger.episode_token``)."""
    if state.pending_request:
        return RetrainRequest(state.pending_request, state.pending_reason or reason)
    return RetrainRequest(episode_token(model, runtime.env, decided.last_window_end), reason)


def _alert(
    spec: ResolvedSpec, runtime: Runtime, url: str | None, payload: dict[str, Any]
) -> tuple[str, str | None]:
    if not url:
        return "disabled", None
    s = runtime.settings
    try:
        post_webhook(url, payload, attempts=s.webhook_attempts, backoff_seconds=s.webhook_backoff_seconds)
        return "sent", None
    except AlertError as exc:
        log.warning("alert not delivered: %s", exc)
        return "failed", str(exc)


def monitor(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    *,
    trigger: Trigger | None = None,
    webhook_url: str | None = None,
    now: datetime | None = None,
) -> MonitorOutcome:
    """Run one monitoring pass. ``trigger(request)`` starts retraining when the decision says so."""
    import mlflow

    from ml_jobs.registry import client as reg
    from ml_jobs.training.train import job_timeout
    from mlops_spec.naming import experiment_path

    model = spec.model
    name = runtime.registered_name(model.name)
    champion = reg.version_by_alias(client, name, reg.CHAMPION)
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
    exp = reg.experiment(client, runtime, experiment_path(runtime.env, model.name), job_timeout(spec))
    with reg.start_run(exp.experiment_id, f"monitor-{model.name}", {"job": "monitor"}) as run:
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
        late = restated_performance(_recorded_performance(runtime, model.name), result.metrics, state)
        inserted = 0
        if not fresh.empty or not late.empty:
            inserted = runtime.merge_table(
                pd.concat([fresh, late]),
                *tables.drift_metrics(model.name),
                keys=tables.DRIFT_METRICS_KEYS,
                update=PERFORMANCE_VALUES,
            ).inserted
        mlflow.log_metric("restated_performance_rows", float(len(late)))
        log_to_mlflow(result.report_path, result.metrics, result.profile.to_json())
        mlflow.log_metric("new_windows", float(fresh["window_end"].nunique()) if not fresh.empty else 0.0)

        decision = result.decision
        alert, alert_error = "none", None
        if result.drift_detected and not fresh.empty:
            payload = {
                "alert_id": stable_hash([name, runtime.env, str(fresh["window_end"].max())], 20),
                "model": name,
                "env": runtime.env,
                "champion": champion.version,
                "decision": decision.reason,
                "drifted": result.drifted_columns,
            }
            alert, alert_error = _alert(spec, runtime, webhook_url or model.monitoring.webhook_url, payload)

    # After the monitor's run: locally the retraining runs in-process and starts runs of its own.
    wanted = decision.retrain or bool(state.pending_request)
    request = request_for(runtime, model.name, state, decision.state, decision.reason) if wanted else None
    outcome, retrain_error = None, None
    new_state = replace(decision.state, last_retrain_at=state.last_retrain_at)
    if request is not None:
        # The decision, as pending, before the trigger: a re-run after a kill finds these windows
        # counted and this request pending, and starts the same request (which ran or resumes).
        pending = replace(new_state, pending_request=request.request_id, pending_reason=request.reason)
        save_state(runtime, model.name, pending, f"pending: {request.reason}")
    if request is not None and trigger is not None:
        log.info("retraining %s (%s): %s", name, request.request_id, request.reason)
        try:
            outcome = trigger(request)
        except (JobError, AlertError) as exc:
            retrain_error = f"{type(exc).__name__}: {exc}"
            log.warning("retraining %s could not run; it stays pending: %s", request.request_id, exc)
    if request is not None and outcome is not None:
        # The cooldown counts from the end of the window that decided it: the same on a re-run.
        started = decision.state.last_window_end or now or datetime.now(UTC)
        new_state = replace(
            new_state,
            last_retrain_at=started,
            consecutive_breaches=0,
            pending_request=None,
            pending_reason=None,
            last_request=request.request_id,
        )
    elif request is not None:
        new_state = replace(new_state, pending_request=request.request_id, pending_reason=request.reason)
    reg.set_run_tags(
        client,
        run.info.run_id,
        {
            "champion_version": str(champion.version),
            "drift_detected": str(result.drift_detected).lower(),
            "retrain": str(decision.retrain).lower(),
            "retrain_request": request.request_id if request else "none",
            "retrain_status": "none"
            if request is None
            else ("started" if outcome is not None else "pending"),
            "alert_status": alert,
        },
    )
    # The row's reason names the request it settles: a re-run, whose windows are already counted,
    # writes the same row as the run it finishes.
    reason = decision.reason if request is None else f"{'started' if outcome is not None else 'pending'}: "
    save_state(runtime, model.name, new_state, reason if request is None else reason + request.reason)
    return MonitorOutcome(
        result,
        str(champion.version),
        inserted,
        request is not None,
        outcome,
        run.info.run_id,
        request,
        retrain_error,
        alert,
        alert_error,
        new_state,
    )
