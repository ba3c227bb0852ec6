"""What one counting pass over a window produces, whichever engine ran it.

The statistics in ``stats`` need nothing else, so the numpy and Spark engines only have to agree
on these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml_jobs.monitoring.profile import CategoricalProfile, NumericProfile


@dataclass
class NumericCounts:
    counts: np.ndarray
    """Finite values per fine bin of the profile (length K + 2)."""
    n_rows: int
    n_null: int
    n_inf: int
    offsets: np.ndarray
    """Per fine bin, the sum of ``x - left edge`` over its values (bin 0: ``x - e_0``, so <= 0)."""
    total: float
    """Sum of the finite values (for the mean shown in the report)."""

    @property
    def n_valid(self) -> int:
        return int(self.counts.sum())


@dataclass
class CategoricalCounts:
    counts: np.ndarray
    """Rows per reference category (length V, the profile's vocabulary order)."""
    n_rows: int
    n_null: int
    unseen: dict[str, int] = field(default_factory=dict)
    """Every category unseen in the reference with its rows (the ``MAX_UNSEEN_KEPT`` most frequent
    when there are more; the rest are summed in ``unseen_other``)."""
    n_unseen_distinct: int = 0
    unseen_other: int = 0

    @property
    def n_unseen(self) -> int:
        return sum(self.unseen.values()) + self.unseen_other

    @property
    def n_valid(self) -> int:
        return int(self.counts.sum()) + self.n_unseen


MAX_UNSEEN_KEPT = 10_000
"""Unseen categories kept by name: the statistics compare every one of them as its own category."""


def union_counts(ref: CategoricalCounts, cur: CategoricalCounts) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' counts over the union of their categories, aligned.

    The reference vocabulary comes first, then every category unseen in the reference on either side
    (by name, so two windows that share a new category compare it as one). Only rows beyond
    ``MAX_UNSEEN_KEPT`` named categories are pooled, in one slot shared by both sides.
    """
    names = sorted(ref.unseen.keys() | cur.unseen.keys())
    r = np.concatenate((ref.counts, [ref.unseen.get(k, 0) for k in names], [ref.unseen_other]))
    c = np.concatenate((cur.counts, [cur.unseen.get(k, 0) for k in names], [cur.unseen_other]))
    return r.astype(np.int64), c.astype(np.int64)


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
        np.asarray(profile.offsets, dtype=float),
        profile.mean * int(np.sum(profile.counts)),
    )


def reference_categorical_counts(profile: CategoricalProfile) -> CategoricalCounts:
    return CategoricalCounts(np.asarray(profile.counts, dtype=np.int64), profile.n_rows, profile.n_null)


@dataclass
class WindowCounts:
    """All counts of one window (or of the reference)."""

    start: object
    end: object
    n_rows: int
    columns: dict[str, ColumnCounts]
    scores: ScoreCounts | None = None
