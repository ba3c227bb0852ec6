"""SHAP values (tree explainer) of a fitted pipeline, per input column.

The explainer runs on the preprocessed matrix (the trees see one-hot columns); a categorical column's
SHAP value is the sum over its one-hot block, which SHAP's additivity makes the column's own
contribution. Values are in log-odds, the space the trees add up in.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml_jobs.training.plots import _feature_columns


@dataclass(frozen=True)
class Explanation:
    values: pd.DataFrame
    """One row per explained row (index of the held-out frame), one column per input feature."""
    rows: pd.DataFrame
    """The explained held-out rows themselves (same index)."""

    def mean_abs(self, mask: np.ndarray | None = None) -> pd.Series:
        """Mean |SHAP| per feature, largest first (over the rows in ``mask`` when given)."""
        v = self.values if mask is None else self.values[mask]
        return v.abs().mean().sort_values(ascending=False)


def sample(test: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """At most ``size`` held-out rows, seeded: the cost of SHAP is bounded by the spec, not the table."""
    if len(test) <= size:
        return test
    return test.sample(n=size, random_state=seed).sort_index()


def explain(model: object, rows: pd.DataFrame, features: Sequence[str]) -> Explanation:
    import shap

    pre, final = model.named_steps["preprocess"], model.steps[-1][1]  # type: ignore[attr-defined]
    x = rows[list(features)]
    xt = np.asarray(pre.transform(x), dtype=float)
    raw = shap.TreeExplainer(final).shap_values(xt)
    raw = np.asarray(raw[1] if isinstance(raw, list) else raw)  # older SHAP: one array per class
    if raw.ndim == 3:  # (rows, columns, classes): the positive class
        raw = raw[:, :, 1]
    grouped = {col: raw[:, idx].sum(axis=1) for col, idx in _feature_columns(model, list(features)).items()}
    return Explanation(pd.DataFrame(grouped, index=rows.index)[list(features)], rows)


def summary_plot(explanation: Explanation, numeric: Sequence[str], path: Path) -> Path:
    """SHAP's beeswarm summary; colour is the feature value for numeric columns (categorical: grey)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    cols = list(explanation.values.columns)
    values = np.column_stack(
        [
            pd.to_numeric(explanation.rows[c], errors="coerce").to_numpy(dtype=float)
            if c in numeric
            else np.full(len(explanation.rows), np.nan)
            for c in cols
        ]
    )
    with warnings.catch_warnings():  # all-NaN colour columns (categorical) are what we ask for
        warnings.simplefilter("ignore", RuntimeWarning)
        shap.summary_plot(explanation.values.to_numpy(), values, feature_names=cols, show=False)
    fig = plt.gcf()
    fig.set_size_inches(7, 0.4 * len(cols) + 1.5)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
