"""The model: preprocessing plus the spec's algorithm (``algorithms.py``), the held-out split and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import brier_score_loss, f1_score, log_loss, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from ml_jobs.training.algorithms import LOCAL, Placement, estimator, impl
from mlops_spec.config import ConfigError
from mlops_spec.config.model_spec import DataSpec

THRESHOLD = 0.5
"""Decision threshold of the served ``prediction``; metrics that need labels use it too."""


def check_params(params: Mapping[str, Any] | None, algorithm: str = "hist_gbm") -> dict[str, Any] | None:
    """``--param`` values as the algorithm's estimator accepts them, or ConfigError naming each bad one
    (exit 2). Names are checked for every algorithm; values where the estimator declares constraints
    (scikit-learn's ``_parameter_constraints``; XGBoost checks its values only when it fits)."""
    if not params:
        return None
    allowed = sorted(set(estimator(algorithm, {}, 0).get_params()) - set(impl(algorithm).fixed))
    problems = []
    for key, value in params.items():
        if key not in allowed:
            problems.append(
                ConfigError.single(
                    "--param", (key,), "unknown hyperparameter", value, ", ".join(allowed)
                ).problems[0]
            )
            continue
        candidate = estimator(algorithm, {key: value}, 0)
        if not hasattr(candidate, "_parameter_constraints"):
            continue
        try:
            candidate._validate_params()
        except (ValueError, TypeError) as exc:  # sklearn's InvalidParameterError is both
            problems.append(
                ConfigError.single("--param", (key,), str(exc).split(". Got")[0], value).problems[0]
            )
    if problems:
        raise ConfigError(problems)
    return dict(params)


def build_pipeline(
    spec: DataSpec,
    params: Mapping[str, Any],
    seed: int,
    algorithm: str = "hist_gbm",
    where: Placement = LOCAL,
) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), list(spec.numeric_features)),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(spec.categorical_features),
            ),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", pre), ("model", estimator(algorithm, params, seed, where))])


def features(df: pd.DataFrame, spec: DataSpec) -> pd.DataFrame:
    return df[list(spec.features)]


def split(df: pd.DataFrame, spec: DataSpec, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held-out split by a seeded hash of the id: a row keeps its side as the table grows, and the
    result does not depend on row order (Spark and Delta return rows in different orders)."""
    is_test = held_out_mask(df[spec.id_column], test_size, seed)
    order = spec.id_column
    train = df[~is_test].sort_values(order, kind="stable").reset_index(drop=True)
    test = df[is_test].sort_values(order, kind="stable").reset_index(drop=True)
    return train, test


def held_out_mask(ids: pd.Series, test_size: float, seed: int) -> np.ndarray:
    """True for held-out rows: a seeded hash of each id alone, so any batch of rows (a Spark
    partition, ``ml_jobs.training.distributed``) gets the same answer for the same id."""
    text = ids.astype(str)
    hashed = pd.util.hash_pandas_object(text, index=False, hash_key=f"{seed % 10**16:016d}").to_numpy()
    return np.asarray((hashed % np.uint64(10_000)).astype(np.int64) < int(test_size * 10_000))


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - predicted probability| over equal-width bins, weighted by bin size."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - proba[mask].mean())
    return float(total / len(y))


def classification_metrics(y: np.ndarray | pd.Series, proba: np.ndarray) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    pred = (proba >= THRESHOLD).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "log_loss": float(log_loss(y, np.clip(proba, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "brier": float(brier_score_loss(y, proba)),
        "ece": expected_calibration_error(y, proba),
        "positive_rate": float(pred.mean()),
    }


def predict_proba(model: Any, x: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(x))[:, 1]
