"""``retrain``: train a challenger on the latest data and promote it only when it beats the champion.

1. Labelled production data (inference log + late labels) is split by time: the newest
   ``retraining.holdout_days`` are kept apart; older rows are MERGEd into the training table on
   its natural key (id, timestamp), so a row is never appended twice, with the request id as the
   commit marker (lineage: the challenger points at the version holding them). A model with feature
   tables gets them as labels in its label table instead, and its training table is rebuilt from
   that by point-in-time lookup (``ml_jobs.features``), as its scheduled ``training-set`` job does.
2. A challenger is trained on that version (``training_window_days`` of it) and validated with the
   model's gates against the champion the retraining started from.
3. Challenger and champion are scored on the holdout, which neither has seen.
4. Promotion only when every gate passed and the challenger wins by ``promotion.min_improvement``
   (ROC-AUC), as the decision ``retrain:<request id>`` in the champion ledger. Where approval is
   required the challenger waits for ``approve``.
5. A decision record (inputs, data versions, metrics of both, decision, reason) goes to MLflow and,
   last, to the ``<model>_retrain_decisions`` Delta table (MERGE on the request id).

Every retraining has a request id (the monitor passes the one of its decision; by hand it is
derived from the trigger and the versions of the inference log and labels read). A re-run of a
request finds its decision record and returns it; a re-run after a kill anywhere before it redoes
each step, and each step is idempotent (same rows, same version by idempotency key, the promotion
already claimed by this decision), so the world ends as after one clean run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]  # ships no type information

from ml_jobs.errors import BadInput, Refused
from ml_jobs.retraining.data import labelled_production, split_holdout
from ml_jobs.retraining.lock import exclusive
from ml_jobs.runtime import Runtime
from ml_jobs.spec import ResolvedSpec
from ml_jobs.training.lineage import stable_hash
from mlops_spec import tables

log = logging.getLogger(__name__)

PROMOTED, REJECTED, AWAITING_APPROVAL = "promoted", "rejected", "awaiting_approval"


@dataclass(frozen=True)
class DecisionRecord:
    retrain_id: str
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

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DecisionRecord:
        def clean(value: Any) -> Any:
            return None if value is None or (isinstance(value, float) and np.isnan(value)) else value

        return cls(**{f.name: clean(row.get(f.name)) for f in fields(cls)})


_ARROW = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
DECISIONS_SCHEMA = pa.schema(
    [(f.name, _ARROW[str(f.type).split(" ")[0].split("|")[0].strip()]) for f in fields(DecisionRecord)]
)
"""Typed columns: a column that is null in one record (no champion yet) still has its type."""


def request_id_for(
    model: str, env: str, trigger: str, versions: tuple[int | None, int | None], fixed: dict[str, Any] | None
) -> str:
    """A retraining by hand: the same trigger over the same production data is the same request."""
    return f"man-{stable_hash([model, env, trigger, list(versions), fixed or {}], 20)}"


def decision_of(runtime: Runtime, model: str, request_id: str) -> DecisionRecord | None:
    try:
        frame, _ = runtime.read_table(*tables.retrain_decisions(model))
    except BadInput:
        return None
    if "retrain_id" not in frame.columns:
        return None
    rows = frame[frame["retrain_id"] == request_id].to_dict("records")
    return DecisionRecord.from_row(rows[0]) if rows else None


def _merge_new_rows(
    spec: ResolvedSpec, runtime: Runtime, rows: pd.DataFrame, request_id: str
) -> tuple[int, int, str | None]:
    """Add production rows to what training reads; (training table version holding them, rows added,
    newest added). The request id marks the commit, so a re-run after a kill adds nothing twice."""
    data = spec.model.data
    marker = f"retrain:{request_id}"
    until = pd.to_datetime(rows[data.timestamp_column], utc=True).max().isoformat() if len(rows) else None
    if spec.model.features is not None:
        return (*_add_labels(spec, runtime, rows, marker), until)
    if rows.empty:
        return runtime.table_version(tables.FEATURES_SCHEMA, data.table), 0, None
    merged = runtime.merge_table(
        rows, tables.FEATURES_SCHEMA, data.table, keys=(data.id_column, data.timestamp_column), marker=marker
    )
    return merged.version, merged.inserted, until


def _add_labels(spec: ResolvedSpec, runtime: Runtime, rows: pd.DataFrame, marker: str) -> tuple[int, int]:
    """A model with feature tables trains on its label table's rows with point-in-time features, which
    the scheduled ``training-set`` job rebuilds ``data.table`` from (overwriting it): the new labels go
    into the label table (MERGE on id and timestamp), and the training set is rebuilt from it here, so
    the next scheduled rebuild keeps them. The rows' logged features are not used: training looks
    features up as of each label's time, the same for every row."""
    from ml_jobs.features.job import build_training_set, write_labels
    from mlops_spec.config import load_models

    data = spec.model.data
    labels = rows[[data.id_column, data.timestamp_column, data.label]]
    added = write_labels(runtime, spec.model, labels, marker)
    models = [m for m in load_models(runtime.env, spec.config_dir) if m.name != spec.model.name]
    built = build_training_set(runtime, spec.model, [spec.model, *models])
    return int(built["version"]), added


def _auc(name: str, version: str, frame: pd.DataFrame, spec: ResolvedSpec) -> float:
    from sklearn.metrics import roc_auc_score

    from ml_jobs.serving.model import load
    from ml_jobs.training.pipeline import features, predict_proba

    model = load(f"models:/{name}/{version}").classifier
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
    runtime.merge_table(
        row,
        *tables.retrain_decisions(record.model),
        keys=tables.RETRAIN_DECISIONS_KEYS,
        arrow_schema=DECISIONS_SCHEMA,
    )


def retrain(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    *,
    trigger: str = "manual",
    actor: str = "retrain",
    fixed_params: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> DecisionRecord:
    from ml_jobs.registry import client as reg
    from ml_jobs.registry.promotion import claimed, finish_pending

    model = spec.model
    name = runtime.registered_name(model.name)
    production, versions = labelled_production(runtime, model.name, model.data)
    request_id = request_id or request_id_for(model.name, runtime.env, trigger, versions, fixed_params)
    decision_key = f"retrain:{request_id}"
    with exclusive(runtime, model.name):
        done = decision_of(runtime, model.name, request_id)
        if done is not None:
            log.info("retraining %s was decided before: %s", request_id, done.decision)
            return done
        finish_pending(spec, runtime, client)
        claim = claimed(runtime, model.name, decision_key)
        if claim is not None:  # a killed attempt of this request already won the promotion
            champion = None if claim.from_version == "none" else claim.from_version
        else:
            champion_mv = reg.version_by_alias(client, name, reg.CHAMPION)
            champion = str(champion_mv.version) if champion_mv else None
        record = _retrain(
            spec,
            runtime,
            client,
            production,
            champion,
            request_id,
            decision_key,
            trigger,
            actor,
            fixed_params,
        )
        _record(runtime, record)
    log.info("retrain %s: %s (%s)", name, record.decision, record.reason)
    return record


def _retrain(
    spec: ResolvedSpec,
    runtime: Runtime,
    client: Any,
    production: pd.DataFrame,
    champion: str | None,
    request_id: str,
    decision_key: str,
    trigger: str,
    actor: str,
    fixed_params: dict[str, Any] | None,
) -> DecisionRecord:
    import mlflow

    from ml_jobs.registry import client as reg
    from ml_jobs.registry.promotion import promote
    from ml_jobs.training.train import job_timeout, train_model
    from ml_jobs.validation.validate import validate_version
    from mlops_spec.naming import experiment_path

    model = spec.model
    name = runtime.registered_name(model.name)
    to_train, holdout = split_holdout(production, model.data, model.retraining.holdout_days)
    version, appended, until = _merge_new_rows(spec, runtime, to_train, request_id)
    trained = train_model(
        spec, runtime, client, data_version=version, fixed_params=fixed_params, request=request_id
    )
    if champion == trained.version:
        report, failed = None, ""
        basis, champ_auc, chall_auc = "none (same version)", None, None
        decision, reason = (
            REJECTED,
            f"v{trained.version} is already the champion (same data, config and code)",
        )
    else:
        report = validate_version(spec, runtime, client, trained.version, against=champion)
        failed = ", ".join(g.name for g in report.failed())
        basis, champ_auc, chall_auc = _compare(spec, name, champion, trained.version, holdout, report)
        decision, reason = _decide(spec, report.passed, failed, champ_auc, chall_auc)
    ts = pd.to_datetime(holdout[model.data.timestamp_column], utc=True) if len(holdout) else None
    exp = reg.experiment(client, runtime, experiment_path(runtime.env, model.name), job_timeout(spec))
    with reg.start_run(
        exp.experiment_id, f"retrain-{model.name}", {"job": "retrain", **reg.override_tags(spec.overrides)}
    ) as run:
        if decision == PROMOTED:
            try:
                promote(spec, runtime, client, version=trained.version, actor=actor, decision=decision_key)
            except Refused as exc:
                decision = AWAITING_APPROVAL if "approval" in str(exc) else REJECTED
                reason = f"{reason}; promotion refused: {exc}"
        record = DecisionRecord(
            retrain_id=request_id,
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
            gates_passed=bool(report.passed) if report is not None else False,
            failed_gates=failed,
            mlflow_run_id=run.info.run_id,
        )
        mlflow.set_tags({"decision": decision, "trigger": trigger[:250], "retrain_id": request_id})
        mlflow.log_params(
            {
                "champion_version": champion,
                "challenger_version": trained.version,
                "training_version": trained.data_version,
                "appended_rows": appended,
            }
        )
        mlflow.log_metrics(
            {k: v for k, v in (("champion_auc", champ_auc), ("challenger_auc", chall_auc)) if v is not None}
        )
        mlflow.log_text(json.dumps(record.to_dict(), indent=2, default=str), "retrain/decision.json")
    mv = client.get_model_version(name, trained.version)
    if champion != trained.version:
        reg.set_record(
            client,
            mv,
            reg.TAG_RETRAIN,
            # ``by``: who triggered this retraining (separation of duties: they may not approve it)
            {
                "decision": decision,
                "request": request_id,
                "reason": reason[:600],
                "by": runtime.identity()[:100],
            },
        )
    return record
