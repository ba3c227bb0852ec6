"""The algorithms step of ``make demo``: the XGBoost model of the spec (``risk_fraud_xgb``) trained and
validated next to the histogram-GBM churn model, and what both cards say (SHAP top features, risk)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ml_jobs.explain import insights as explain

XGB_MODEL = "risk_fraud_xgb"
XGB_DEMO_OVERRIDES = {"training": {"n_trials": 3}, "validation": {"max_latency_ms": 500}}


def xgboost_step(
    runtime: Any, client: Any, start: datetime, rows: int, seed: int, out: Callable[[str], None]
) -> Path:
    """Train and validate the XGBoost model on synthetic fraud data; returns its card's path."""
    from ml_jobs.data.fraud import generate_fraud
    from ml_jobs.spec import resolve
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version

    spec = resolve(XGB_MODEL, runtime.env, overrides=XGB_DEMO_OVERRIDES)
    table = spec.model.data.table
    version = runtime.write_table(generate_fraud(rows, seed, start), "features", table, mode="overwrite")
    algo = spec.model.training.algorithm
    out(f"[demo] {XGB_MODEL}: {algo} ({spec.model.training.n_trials} trials) on features.{table} v{version}")
    trained = train_model(spec, runtime, client, data_version=version)
    report = validate_version(spec, runtime, client, trained.version)
    out(
        f"[demo] {XGB_MODEL} v{trained.version}: ROC-AUC {trained.metrics['roc_auc']:.3f}; "
        f"gates {report.status}"
    )
    mv = client.get_model_version(trained.registered_name, trained.version)
    card = Path(runtime.root or ".") / f"model_card_{XGB_MODEL}_v{mv.version}.md"
    card.write_text(mv.description or "(no model card)", encoding="utf-8")
    return card


def card_summary(model: str, run_id: str | None) -> str:
    """One line: the algorithm, the top SHAP features and the risk score of a version's training run."""
    found = explain.load(run_id)
    if found is None:
        return f"{model}: no explanations recorded"
    top = ", ".join(f["feature"] for f in found["shap"]["top_features"][:3])
    risk = found["risk"]
    return (
        f"{model} ({found['algorithm']}): top SHAP features {top}; risk {risk['score']:.2f} ({risk['tier']})"
    )
