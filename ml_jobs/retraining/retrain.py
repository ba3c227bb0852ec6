"""``retrain``: train a challenger on the latest data and promote it only when it beats the champion.

1. Labelled production data (inference log + late labels) is split by time: the newest
   ``retraining.holdout_days`` are kept apart; older rows not appended before are appended to the
   training table, giving a new Delta version (lineage: the challenger points at that version).
2. A challenger is trained on that version (``training_window_days`` of it) and validated with the
   model's gates.
3. Challenger and champion are scored on the holdout, which neither has seen.
4. Promotion only when every gate passed and the challenger wins by ``promotion.min_improvement``
   (ROC-AUC). Where approval is required the challenger waits for ``approve``.
5. A decision record (inputs, data versions, metrics of both, decision, reason) goes to MLflow and
   to the ``<model>_retrain_decisions`` Delta table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ml_jobs.errors import BadInput, Refused
from ml_jobs.retraining.data import labelled_production, split_holdout
from ml_jobs.retraining.lock import exclusive
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from mlops_spec import tables

log = logging.getLogger(__name__)

PROMOTED, REJECTED, AWAITING_APPROVAL = "promoted", "rejected", "awaiting_approval"


@dataclass(frozen=True)
class DecisionRecord:
    decided_at: str
    model: str
    env: str
    trigger: str
    decision: str
    reason: str
    champion_version: str | None
    challenger_version: str
    challenger_reused: bool
    training_table: str
    training_version: int
    appended_rows: int
    appended_until: str | None
    holdout_rows: int
    holdout_from: str | None
    holdout_to: str | None
    comparison_basis: str
    champion_auc: float | None
    challenger_auc: float | None
    required_margin: float
    gates_passed: bool
    failed_gates: str
    mlflow_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _previous_watermark(runtime: Runtime, model: str) -> pd.Timestamp | None:
    try:
        frame, _ = runtime.read_table(*tables.retrain_decisions(model))
    except BadInput:
        return None
    marks = pd.to_datetime(frame["appended_until"].dropna(), utc=True)
    return marks.max() if len(marks) else None


def _append_new_rows(spec: ResolvedSpec, runtime: Runtime, rows: pd.DataFrame) -> tuple[int, int, str | None]:
    """Append production rows newer than the last retraining's watermark; (version, count, watermark)."""
    data = spec.model.data
    watermark = _previous_watermark(runtime, spec.model.name)
    if watermark is not None and not rows.empty:
        rows = rows[pd.to_datetime(rows[data.timestamp_column], utc=True) > watermark]
    if rows.empty:
        version = runtime.table_version(tables.FEATURES_SCHEMA, data.table)
        return version, 0, watermark.isoformat() if watermark is not None else None
    version = runtime.write_table(rows, tables.FEATURES_SCHEMA, data.table, mode="append")
    until = pd.to_datetime(rows[data.timestamp_column], utc=True).max()
    return version, len(rows), until.isoformat()


def _auc(name: str, version: str, frame: pd.DataFrame, spec: ResolvedSpec) -> float:
    import mlflow
    from sklearn.metrics import roc_auc_score

    from ml_jobs.training.pipeline import features, predict_proba

    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    y = frame[spec.model.data.label].to_numpy().astype(int)
    return float(roc_auc_score(y, predict_proba(model, features(frame, spec.model.data))))


def _compare(
    spec: ResolvedSpec, name: str, champion: str | None, challenger: str, holdout: pd.DataFrame, report: Any
) -> tuple[str, float | None, float | None]:
    """ROC-AUC of both on the production holdout, or on the validation split when it is too small."""
    label = spec.model.data.label
    enough = len(holdout) >= spec.model.retraining.min_holdout_rows and holdout[label].nunique() == 2
    if enough:
        champ = _auc(name, champion, holdout, spec) if champion else None
        return f"production holdout ({len(holdout)} rows)", champ, _auc(name, challenger, holdout, spec)
    champ = report.champion_metrics.get("roc_auc") if champion else None
    return "validation split (production holdout too small)", champ, report.metrics.get("roc_auc")


def _decide(
    spec: ResolvedSpec, gates_passed: bool, failed: str, champ: float | None, chall: float | None
) -> tuple[str, str]:
    margin = spec.model.promotion.min_improvement
    if not gates_passed:
        return REJECTED, f"validation gates failed: {failed}"
    if chall is None or np.isnan(chall):
        return REJECTED, "challenger could not be scored"
    if champ is None:
        return PROMOTED, f"no champion; challenger passed every gate (ROC-AUC {chall:.4f})"
    gain = chall - champ
    if gain < margin:
        return (
            REJECTED,
            f"ROC-AUC {chall:.4f} vs champion {champ:.4f}: gain {gain:+.4f} below margin {margin:.4f}",
        )
    return PROMOTED, f"ROC-AUC {chall:.4f} vs champion {champ:.4f}: gain {gain:+.4f} >= margin {margin:.4f}"


def _record(runtime: Runtime, record: DecisionRecord) -> None:
    row = pd.DataFrame([record.to_dict()])
    runtime.write_table(row, *tables.retrain_decisions(record.model))


def retrain(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    *,
    trigger: str = "manual",
    actor: str = "retrain",
    fixed_params: dict[str, Any] | None = None,
) -> DecisionRecord:
    import mlflow

    from ml_jobs.registry import client as reg
    from ml_jobs.registry.promotion import promote
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version
    from mlops_spec.naming import experiment_path

    model = spec.model
    name = runtime.registered_name(model.name)
    with exclusive(runtime, model.name):
        champion_mv = reg.version_by_alias(client, name, reg.CHAMPION)
        champion = str(champion_mv.version) if champion_mv else None
        production = labelled_production(runtime, model.name, model.data)
        to_train, holdout = split_holdout(production, model.data, model.retraining.holdout_days)
        version, appended, until = _append_new_rows(spec, runtime, to_train)
        trained = train_model(spec, runtime, client, data_version=version, fixed_params=fixed_params)
        report = validate_version(spec, runtime, client, trained.version)
        failed = ", ".join(g.name for g in report.failed())
        basis, champ_auc, chall_auc = _compare(spec, name, champion, trained.version, holdout, report)
        decision, reason = _decide(spec, report.passed, failed, champ_auc, chall_auc)
        if champion == trained.version:
            decision, reason = (
                REJECTED,
                f"v{trained.version} is already the champion (same data, config and code)",
            )
        ts = pd.to_datetime(holdout[model.data.timestamp_column], utc=True) if len(holdout) else None
        exp = reg.experiment(client, runtime, experiment_path(runtime.env, model.name))
        with mlflow.start_run(experiment_id=exp.experiment_id, run_name=f"retrain-{model.name}") as run:
            if decision == PROMOTED:
                try:
                    promote(spec, runtime, client, version=trained.version, actor=actor)
                except Refused as exc:
                    decision = AWAITING_APPROVAL if "approval" in str(exc) else REJECTED
                    reason = f"{reason}; promotion refused: {exc}"
            record = DecisionRecord(
                decided_at=datetime.now(UTC).isoformat(),
                model=model.name,
                env=runtime.env,
                trigger=trigger,
                decision=decision,
                reason=reason,
                champion_version=champion,
                challenger_version=trained.version,
                challenger_reused=trained.reused,
                training_table=trained.data_table,
                training_version=trained.data_version,
                appended_rows=appended,
                appended_until=until,
                holdout_rows=len(holdout),
                holdout_from=ts.min().isoformat() if ts is not None else None,
                holdout_to=ts.max().isoformat() if ts is not None else None,
                comparison_basis=basis,
                champion_auc=champ_auc,
                challenger_auc=chall_auc,
                required_margin=model.promotion.min_improvement,
                gates_passed=report.passed,
                failed_gates=failed,
                mlflow_run_id=run.info.run_id,
            )
            mlflow.set_tags({"job": "retrain", "decision": decision, "trigger": trigger[:250]})
            mlflow.log_params(
                {
                    "champion_version": champion,
                    "challenger_version": trained.version,
                    "training_version": trained.data_version,
                    "appended_rows": appended,
                }
            )
            mlflow.log_metrics(
                {
                    k: v
                    for k, v in (("champion_auc", champ_auc), ("challenger_auc", chall_auc))
                    if v is not None
                }
            )
            mlflow.log_text(json.dumps(record.to_dict(), indent=2, default=str), "retrain/decision.json")
        client.set_model_version_tag(name, trained.version, "retrain.decision", decision)
        client.set_model_version_tag(name, trained.version, "retrain.reason", reason[:5000])
        _record(runtime, record)
    log.info("retrain %s: %s (%s)", name, decision, reason)
    return record
