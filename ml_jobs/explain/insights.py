"""Computed at training time, logged to the training run, read by the model card.

Artifacts of the training run:

* ``explain/shap_global.json``: mean |SHAP| per feature over the explained held-out sample;
* ``explain/shap_summary.png``: SHAP's summary (beeswarm) plot;
* ``explain/insights.json``: what the card shows (top features, per-segment top features and
  metrics, data profile, risk score with its formula).

The registered version gets ``risk_score`` and ``risk_tier`` tags (Unity Catalog tag keys: no dots).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_jobs.explain import risk as risk_mod
from ml_jobs.explain.shap_values import Explanation, explain, sample, summary_plot
from ml_jobs.training.pipeline import classification_metrics, features, predict_proba
from ml_jobs.validation import gates
from mlops_spec.config.model_spec import DataSpec, ModelSpec

INSIGHTS_ARTIFACT = "explain/insights.json"
SHAP_GLOBAL_ARTIFACT = "explain/shap_global.json"
SHAP_PLOT_ARTIFACT = "explain/shap_summary.png"
TAG_RISK_SCORE = "risk_score"
TAG_RISK_TIER = "risk_tier"


def data_profile(train: pd.DataFrame, data: DataSpec) -> dict[str, Any]:
    """Rows, label rate and per-feature summary of the training split."""
    numeric = {}
    for c in data.numeric_features:
        s = pd.to_numeric(train[c], errors="coerce")
        numeric[c] = {
            "mean": float(s.mean()),
            "std": float(s.std()),
            "min": float(s.min()),
            "max": float(s.max()),
            "null_share": float(s.isna().mean()),
        }
    categorical = {}
    for c in data.categorical_features:
        counts = train[c].value_counts(dropna=True)
        categorical[c] = {
            "categories": len(counts),
            "top": str(counts.index[0]) if len(counts) else None,
            "top_share": float(counts.iloc[0] / len(train)) if len(counts) else 0.0,
            "null_share": float(train[c].isna().mean()),
        }
    return {
        "rows": len(train),
        "label_rate": float(train[data.label].mean()),
        "numeric": numeric,
        "categorical": categorical,
    }


def segment_metrics(test: pd.DataFrame, data: DataSpec, proba: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per segment of the held-out split: rows, label rate, predicted positive rate, ROC-AUC, ECE."""
    if not data.segment_column:
        return {}
    y = test[data.label].to_numpy().astype(int)
    out: dict[str, dict[str, Any]] = {}
    for seg, idx in test.groupby(data.segment_column, sort=True).indices.items():
        row: dict[str, Any] = {"rows": len(idx), "label_rate": float(y[idx].mean())}
        if len(np.unique(y[idx])) == 2:
            m = classification_metrics(y[idx], proba[idx])
            row.update(roc_auc=m["roc_auc"], ece=m["ece"], positive_rate=m["positive_rate"])
        row["judged"] = len(idx) >= gates.MIN_GROUP_ROWS
        out[str(seg)] = row
    return out


def drift_sensitivity(
    model: Any, rows: pd.DataFrame, train: pd.DataFrame, data: DataSpec
) -> dict[str, float]:
    """Mean |score change| when one numeric feature moves by ``DRIFT_PROBE_STD`` training stds."""
    x = features(rows, data)
    base = predict_proba(model, x)
    out = {}
    for c in data.numeric_features:
        shifted = x.copy()
        shifted[c] = shifted[c] + risk_mod.DRIFT_PROBE_STD * float(train[c].std())
        out[c] = float(np.mean(np.abs(predict_proba(model, shifted) - base)))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _top(series: pd.Series, k: int) -> list[dict[str, Any]]:
    return [{"feature": str(f), "mean_abs_shap": float(v)} for f, v in series.head(k).items()]


def segment_top_features(explanation: Explanation, data: DataSpec, k: int) -> dict[str, list[dict[str, Any]]]:
    if not data.segment_column:
        return {}
    seg = explanation.rows[data.segment_column].astype(str).to_numpy()
    return {s: _top(explanation.mean_abs(seg == s), k) for s in sorted(set(seg))}


def _fairness_gap(test: pd.DataFrame, data: DataSpec, proba: np.ndarray) -> float | None:
    if not data.sensitive_attribute:
        return None
    result = gates.demographic_parity(test[data.sensitive_attribute], proba, 1.0)
    return result.value


def _segment_spread(per_segment: Mapping[str, Mapping[str, Any]]) -> float | None:
    aucs = [m["roc_auc"] for m in per_segment.values() if m["judged"] and "roc_auc" in m]
    return float(max(aucs) - min(aucs)) if len(aucs) >= 2 else None


def compute(
    spec: ModelSpec, model: Any, train: pd.DataFrame, test: pd.DataFrame, proba: np.ndarray
) -> tuple[dict[str, Any], Explanation]:
    """Everything the card shows, as JSON-ready data, and the SHAP explanation it came from."""
    data, cfg = spec.data, spec.explain
    rows = sample(test, cfg.shap_sample_size, spec.training.seed)
    explanation = explain(model, rows, data.features)
    global_shap = explanation.mean_abs()
    per_segment = segment_metrics(test, data, proba)
    sensitivity = drift_sensitivity(model, rows, train, data)
    y = test[data.label].to_numpy().astype(int)
    score = risk_mod.risk_score(
        spec.criticality,
        _fairness_gap(test, data, proba),
        classification_metrics(y, proba)["ece"],
        _segment_spread(per_segment),
        max(sensitivity.values(), default=0.0),
    )
    insights = {
        "algorithm": spec.training.algorithm,
        "shap": {
            "explained_rows": len(rows),
            "space": "log-odds",
            "global": {k: float(v) for k, v in global_shap.items()},
            "top_features": _top(global_shap, cfg.top_features),
            "segment_top_features": segment_top_features(explanation, data, cfg.top_features),
        },
        "segment_column": data.segment_column,
        "segment_metrics": per_segment,
        "data_profile": data_profile(train, data),
        "drift_sensitivity": sensitivity,
        "risk": score.to_dict(),
    }
    return insights, explanation


def explain_and_log(
    spec: ModelSpec, model: Any, train: pd.DataFrame, test: pd.DataFrame, proba: Any
) -> dict[str, Any]:
    """Compute and log to the active MLflow run; returns the insights."""
    import mlflow

    insights, explanation = compute(spec, model, train, test, np.asarray(proba))
    mlflow.log_dict(insights["shap"]["global"], SHAP_GLOBAL_ARTIFACT)
    mlflow.log_dict(insights, INSIGHTS_ARTIFACT)
    with tempfile.TemporaryDirectory() as tmp:
        plot = summary_plot(
            explanation, spec.data.numeric_features, Path(tmp) / Path(SHAP_PLOT_ARTIFACT).name
        )
        mlflow.log_artifact(str(plot), str(Path(SHAP_PLOT_ARTIFACT).parent))
    risk = insights["risk"]
    mlflow.log_metric("risk_score", risk["score"])
    mlflow.set_tag(TAG_RISK_TIER, risk["tier"])
    return insights


def version_tags(insights: Mapping[str, Any]) -> dict[str, str]:
    """The risk tags a version is registered with (in the one registration call, so a killed
    training never leaves a version without them)."""
    risk = insights["risk"]
    return {TAG_RISK_SCORE: f"{risk['score']:.4f}", TAG_RISK_TIER: risk["tier"]}


def load(run_id: str | None) -> dict[str, Any] | None:
    """The insights of a training run (tracking URI as set by ``connect``); None for a version trained
    before they existed, or when the run has none."""
    if not run_id:
        return None
    import mlflow

    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{INSIGHTS_ARTIFACT}")
    except Exception:  # a missing artifact is "no insights", not a failed card
        return None
    loaded: dict[str, Any] = json.loads(text)
    return loaded
