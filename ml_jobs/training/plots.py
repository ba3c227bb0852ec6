"""PNG artifacts of a trained model: feature importance, confusion matrix, ROC curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # job clusters and CI have no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from ml_jobs.training.pipeline import THRESHOLD


def feature_importance(model, x: pd.DataFrame, y: np.ndarray, seed: int) -> pd.Series:
    """Permutation importance on held-out data (ROC-AUC drop), per input column, largest first."""
    result = permutation_importance(model, x, y, scoring="roc_auc", n_repeats=3, random_state=seed, n_jobs=1)
    return pd.Series(result.importances_mean, index=x.columns).sort_values(ascending=False)


def save_plots(
    model, x: pd.DataFrame, y: np.ndarray, proba: np.ndarray, importance: pd.Series, out_dir: Path
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    importance.iloc[::-1].plot.barh(ax=ax)
    ax.set_xlabel("ROC-AUC drop when permuted")
    ax.set_title("Feature importance (held-out)")
    paths.append(_save(fig, out_dir / "feature_importance.png"))
    fig, ax = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay.from_predictions(y, (proba >= THRESHOLD).astype(int), ax=ax, colorbar=False)
    ax.set_title(f"Confusion matrix (threshold {THRESHOLD})")
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))
    fig, ax = plt.subplots(figsize=(4, 4))
    RocCurveDisplay.from_predictions(y, proba, ax=ax)
    ax.set_title("ROC (held-out)")
    paths.append(_save(fig, out_dir / "roc_curve.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
