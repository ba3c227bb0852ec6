"""What one counting pass over a window produces, whichever engine ran it.

The statistics in ``stats`` need nothing else, so the numpy and Spark engines only have to agree
on these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml_jobs.monitoring.profile import CategoricalProfile, NumericProfile
from ml_jobs.monitoring.stats import TailSums


@dataclass
class NumericCounts:
    counts: np.ndarray
    """Finite values per fine bin of the profile (length K + 2)."""
    n_rows: int
    n_null: int
    n_inf: int
    tails: TailSums
    total: float
    """Sum of the finite values (for the mean shown in the report)."""

    @property
    def n_valid(self) -> int:
        return int(self.counts.sum())


@dataclass
class CategoricalCounts:
    counts: np.ndarray
    """Rows per reference category, then one last slot for all unseen categories (length V + 1)."""
    n_rows: int
    n_null: int
    unseen: dict[str, int] = field(default_factory=dict)
    """Unseen categories and their counts (at most ``MAX_UNSEEN_KEPT`` of the most frequent)."""
    n_unseen_distinct: int = 0

    @property
    def n_valid(self) -> int:
        return int(self.counts.sum())


MAX_UNSEEN_KEPT = 50


@dataclass
class SchemaFinding:
    """A column that could not be counted: ``missing`` from the window or of an incompatible ``dtype``."""

    kind: str
    detail: str
    n_rows: int


ColumnCounts = NumericCounts | CategoricalCounts | SchemaFinding


@dataclass
class ScoreCounts:
    """Per equal-width score bin over [0, 1], for realised and estimated (CBPE) performance."""

    positives: np.ndarray
    negatives: np.ndarray
    rows: np.ndarray
    score_sum: np.ndarray
    confusion: np.ndarray
    """Labelled rows by (prediction, label): [[tn, fn], [fp, tp]]."""
    expected_correct: float
    """Sum over all scored rows of P(prediction is right) = s if predicted 1 else 1 - s."""
    n_rows: int
    n_labelled: int


SCORE_BINS = 1000


def reference_numeric_counts(profile: NumericProfile) -> NumericCounts:
    return NumericCounts(
        np.asarray(profile.counts, dtype=np.int64),
        profile.n_rows,
        profile.n_null,
        profile.n_inf,
        TailSums(0.0, 0.0),
        profile.mean * int(np.sum(profile.counts)),
    )


def reference_categorical_counts(profile: CategoricalProfile) -> CategoricalCounts:
    return CategoricalCounts(np.asarray([*profile.counts, 0], dtype=np.int64), profile.n_rows, profile.n_null)


@dataclass
class WindowCounts:
    """All counts of one window (or of the reference)."""

    start: object
    end: object
    n_rows: int
    columns: dict[str, ColumnCounts]
    scores: ScoreCounts | None = None
