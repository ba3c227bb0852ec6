"""The model: preprocessing plus histogram gradient boosting, and the held-out split and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import brier_score_loss, f1_score, log_loss, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlops_spec.config import ConfigError
from mlops_spec.config.model_spec import DataSpec

THRESHOLD = 0.5
"""Decision threshold of the served ``prediction``; metrics that need labels use it too."""
FIXED_BY_PIPELINE = ("random_state", "early_stopping")
"""Set by ``build_pipeline`` itself: a ``--param`` may not override them."""


def check_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``--param`` values as the classifier accepts them, or ConfigError naming each bad one (exit 2)."""
    if not params:
        return None
    allowed = sorted(set(HistGradientBoostingClassifier().get_params()) - set(FIXED_BY_PIPELINE))
    problems = []
    for key, value in params.items():
        if key not in allowed:
            problems.append(
                ConfigError.single(
                    "--param", (key,), "unknown hyperparameter", value, ", ".join(allowed)
                ).problems[0]
            )
            continue
        try:
            HistGradientBoostingClassifier(**{key: value})._validate_params()
        except (ValueError, TypeError) as exc:  # sklearn's InvalidParameterError is both
            problems.append(
                ConfigError.single("--param", (key,), str(exc).split(". Got")[0], value).problems[0]
            )
    if problems:
        raise ConfigError(problems)
    return dict(params)


def build_pipeline(spec: DataSpec, params: Mapping[str, Any], seed: int) -> Pipeline:
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
    # early_stopping off: its internal validation split would make results depend on data size.
    gbm = HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **params)
    return Pipeline([("preprocess", pre), ("model", gbm)])


def features(df: pd.DataFrame, spec: DataSpec) -> pd.DataFrame:
    return df[list(spec.features)]


def split(df: pd.DataFrame, spec: DataSpec, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held-out split by a seeded hash of the id: a row keeps its side as the table grows, and the
    result does not depend on row order (Spark and Delta return rows in different orders)."""
    ids = df[spec.id_column].astype(str)
    hashed = pd.util.hash_pandas_object(ids, index=False, hash_key=f"{seed % 10**16:016d}").to_numpy()
    is_test = (hashed % np.uint64(10_000)).astype(np.int64) < int(test_size * 10_000)
    order = spec.id_column
    train = df[~is_test].sort_values(order, kind="stable").reset_index(drop=True)
    test = df[is_test].sort_values(order, kind="stable").reset_index(drop=True)
    return train, test


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
