"""Reference profile: computed once from the reference data, stored as JSON, reused for every window.

Numeric columns keep fine reference-quantile edges (default 2,000 bins, for KS and Wasserstein) and
the reference counts and value offsets on them; the coarse PSI/JS edges (default deciles) are a
subset of the fine edges, so one counting pass over a window yields both. Categorical columns keep
their vocabulary and counts. Quantiles use the inverted-CDF definition (the smallest value with at
least ``q`` of the data at or below it), which is also what Spark's exact ``percentile`` returns, so
edges are real data values and ties stay on one side of an edge.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROFILE_FORMAT = 2
"""2: numeric bins carry offsets (format 1 had none; a format-1 profile is rebuilt, never read)."""
MAX_CATEGORIES = 10_000


class ProfileError(ValueError):
    """The reference data cannot be profiled (names the column and the reason)."""


@dataclass(frozen=True)
class NumericProfile:
    edges: list[float]
    """Fine edges e_0 (reference min) < ... < e_K (reference max)."""
    coarse_edges: list[float]
    """Interior PSI/JS edges (deciles by default), a subset of ``edges``; outer bins are open."""
    counts: list[int]
    """Reference counts on the fine bins ``(-inf, e_0), [e_0, e_1), ..., [e_K, +inf)``."""
    n_rows: int
    n_null: int
    n_inf: int
    mean: float
    std: float
    offsets: list[float]
    """Per fine bin, the sum of ``x - left edge`` over the reference values in it (see ``stats``)."""

    @property
    def spread(self) -> float:
        """Normaliser of the Wasserstein distance: the reference standard deviation (1 if constant)."""
        return self.std if self.std > 0 else 1.0


@dataclass(frozen=True)
class CategoricalProfile:
    categories: list[str]
    counts: list[int]
    n_rows: int
    n_null: int


@dataclass(frozen=True)
class ReferenceProfile:
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)
    n_rows: int = 0
    fine_bins: int = 2000
    coarse_bins: int = 10
    format: int = PROFILE_FORMAT

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def kind(self, column: str) -> str:
        return "numeric" if column in self.numeric else "categorical"

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=True)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        raw: dict[str, Any] = json.loads(text)
        if raw.get("format") != PROFILE_FORMAT:
            raise ProfileError(
                f"reference profile: format {raw.get('format')!r} is not supported, expected {PROFILE_FORMAT}"
            )
        return cls(
            numeric={k: NumericProfile(**v) for k, v in raw["numeric"].items()},
            categorical={k: CategoricalProfile(**v) for k, v in raw["categorical"].items()},
            n_rows=raw["n_rows"],
            fine_bins=raw["fine_bins"],
            coarse_bins=raw["coarse_bins"],
        )

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        return cls.from_json(Path(path).read_text())

    def merged(self, other: ReferenceProfile) -> ReferenceProfile:
        """This profile plus the columns of ``other`` it lacks (e.g. scores profiled on a baseline window)."""
        return ReferenceProfile(
            numeric={**other.numeric, **self.numeric},
            categorical={**other.categorical, **self.categorical},
            n_rows=self.n_rows,
            fine_bins=self.fine_bins,
            coarse_bins=self.coarse_bins,
        )


def quantile_positions(n: int, levels: np.ndarray) -> np.ndarray:
    """Indices into a sorted array of ``n`` values for the inverted-CDF quantiles at ``levels``."""
    positions: np.ndarray = np.clip(np.ceil(levels * n).astype(np.int64) - 1, 0, n - 1)
    return positions


def numeric_edges(
    sorted_finite: np.ndarray, fine_bins: int, coarse_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Deduplicated fine edges (levels k/fine_bins, k = 0..fine_bins) and interior coarse edges."""
    levels = np.arange(fine_bins + 1) / fine_bins
    return edges_from_quantiles(
        sorted_finite[quantile_positions(len(sorted_finite), levels)], fine_bins, coarse_bins
    )


def edges_from_quantiles(raw: np.ndarray, fine_bins: int, coarse_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine and interior coarse edges from the quantiles at levels k/fine_bins, k = 0..fine_bins."""
    step = fine_bins // coarse_bins
    return np.unique(raw), np.unique(raw[step:-step:step]) if coarse_bins > 1 else np.array([])


def is_numeric_dtype(series: pd.Series) -> bool:
    return series.dtype.kind in "iuf" and not isinstance(series.dtype, pd.CategoricalDtype)


def build_profile(
    df: pd.DataFrame,
    numeric_columns: list[str] | None = None,
    categorical_columns: list[str] | None = None,
    fine_bins: int = 2000,
    coarse_bins: int = 10,
) -> ReferenceProfile:
    """Profile the reference with the numpy engine (see ``engine_numpy.count_numeric``).

    Without explicit column lists, integer/float columns are numeric and everything else
    (strings, booleans, pandas categoricals) is categorical.
    """
    from ml_jobs.monitoring import engine_numpy  # engines import this module

    if fine_bins % coarse_bins:
        raise ProfileError(f"fine_bins ({fine_bins}) must be a multiple of coarse_bins ({coarse_bins})")
    if numeric_columns is None and categorical_columns is None:
        numeric_columns = [c for c in df.columns if is_numeric_dtype(df[c])]
        categorical_columns = [c for c in df.columns if c not in numeric_columns]
    numeric_columns, categorical_columns = list(numeric_columns or []), list(categorical_columns or [])
    for column in [*numeric_columns, *categorical_columns]:
        if column not in df.columns:
            raise ProfileError(f"reference data: column {column!r} is missing; present: {sorted(df.columns)}")
    numeric = {}
    for column in numeric_columns:
        if not is_numeric_dtype(df[column]):
            raise ProfileError(
                f"reference data: column {column!r} is declared numeric but has dtype "
                f"{df[column].dtype}; allowed: integer or float"
            )
        numeric[column] = engine_numpy.profile_numeric(df[column], fine_bins, coarse_bins)
    categorical = {c: engine_numpy.profile_categorical(df[c], c) for c in categorical_columns}
    return ReferenceProfile(numeric, categorical, len(df), fine_bins, coarse_bins)


# --- the prediction baseline of a model version -----------------------------------------------

PREDICTION_PROFILE_ARTIFACT = "monitoring/prediction_profile.json"
"""Where a training run stores its version's prediction baseline (an MLflow run artifact)."""


def prediction_profile(
    scores: np.ndarray, threshold: float, score: str = "score", prediction: str = "prediction"
) -> ReferenceProfile:
    """The profile of a model's scores and predicted classes on its held-out split.

    Written once when the version is trained and stored with it, so the score reference of a
    monitored window is the serving version's own behaviour on unseen data: drift is visible from
    the first production window, and after a promotion the baseline is the new champion's. The
    predicted class is ``score >= threshold``, as the scoring job decides it.
    """
    values = np.asarray(scores, dtype=np.float64)
    frame = pd.DataFrame({score: values, prediction: (values >= threshold).astype(np.int64)})
    return build_profile(frame, [score], [prediction])


def with_prediction_baseline(profile: ReferenceProfile, baseline: ReferenceProfile) -> ReferenceProfile:
    """``profile`` whose score and prediction columns come from ``baseline`` (they win over the data's)."""
    return ReferenceProfile(
        numeric={**profile.numeric, **baseline.numeric},
        categorical={**profile.categorical, **baseline.categorical},
        n_rows=profile.n_rows,
        fine_bins=profile.fine_bins,
        coarse_bins=profile.coarse_bins,
    )


def load_prediction_profile(run_id: str | None) -> ReferenceProfile | None:
    """The prediction baseline a training run stored, or None (no run, or trained before it existed)."""
    if not run_id:
        return None
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{PREDICTION_PROFILE_ARTIFACT}")
    except (MlflowException, OSError):
        return None
    return ReferenceProfile.from_json(text)
