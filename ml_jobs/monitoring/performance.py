"""Realised performance once labels arrive, and a confidence-based estimate (CBPE) before they do.

Both come from the score-bin counts of a window (1,000 equal-width bins over [0, 1]):
- ROC-AUC counts pairs across bins exactly and pairs within one bin as ties (half), so it differs
  from the exact AUC by at most ``0.5 * sum(pos_b * neg_b) / (P * N)``, returned as the error bound.
  Its 95% interval is Hanley and McNeil's (1982) analytic standard error.
- Accuracy uses the labelled confusion matrix with a Wilson score interval.
- The estimate assumes calibrated scores: a row with score ``s`` is positive with probability ``s``,
  so expected positives per bin are the bin's score sum; AUC and accuracy follow from those
  expected counts (NannyML's CBPE). It is only as good as the calibration and is labelled estimated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_jobs.monitoring.counts import ScoreCounts

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float = float("nan")
    high: float = float("nan")


def binned_auc(positives: np.ndarray, negatives: np.ndarray) -> tuple[float, float]:
    """AUC from per-bin class counts (bins in increasing score order) and its error bound."""
    pos, neg = np.asarray(positives, float), np.asarray(negatives, float)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    neg_below = np.cumsum(neg) - neg
    auc = float((pos * (neg_below + 0.5 * neg)).sum() / (n_pos * n_neg))
    return auc, float(0.5 * (pos * neg).sum() / (n_pos * n_neg))


def hanley_mcneil(auc: float, n_pos: float, n_neg: float) -> Estimate:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    se = math.sqrt(max(var, 0.0))
    return Estimate(auc, max(auc - Z95 * se, 0.0), min(auc + Z95 * se, 1.0))


def wilson(successes: float, n: float) -> Estimate:
    if n == 0:
        return Estimate(float("nan"))
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return Estimate(p, max(centre - half, 0.0), min(centre + half, 1.0))


@dataclass(frozen=True)
class Performance:
    n_labelled: int
    label_coverage: float
    roc_auc: Estimate | None
    accuracy: Estimate | None
    estimated_roc_auc: float
    estimated_accuracy: float
    auc_error_bound: float = float("nan")


def performance(counts: ScoreCounts, min_samples: int) -> Performance:
    """Realised metrics when at least ``min_samples`` labels (of both classes for AUC) exist."""
    roc = acc = None
    bound = float("nan")
    if counts.n_labelled >= min_samples:
        auc, bound = binned_auc(counts.positives, counts.negatives)
        if not math.isnan(auc):
            roc = hanley_mcneil(auc, counts.positives.sum(), counts.negatives.sum())
        acc = wilson(float(np.trace(counts.confusion)), float(counts.confusion.sum()))
    expected_pos = counts.score_sum
    est_auc, _ = binned_auc(expected_pos, counts.rows - expected_pos)
    est_acc = counts.expected_correct / counts.n_rows if counts.n_rows else float("nan")
    coverage = counts.n_labelled / counts.n_rows if counts.n_rows else float("nan")
    return Performance(counts.n_labelled, coverage, roc, acc, est_auc, est_acc, bound)


def join_labels(
    log: pd.DataFrame,
    labels: pd.DataFrame | None,
    request_id: str = "request_id",
    label: str = "label",
    label_timestamp: str = "label_timestamp",
) -> pd.DataFrame:
    """The log with a ``label`` column: the latest label per request id, missing where none arrived yet."""
    if labels is None or len(labels) == 0:
        return log.assign(**{label: np.nan})
    for column in (request_id, label):
        if column not in labels.columns:
            raise ValueError(f"labels table: column {column!r} is missing; present: {sorted(labels.columns)}")
    latest = labels
    if label_timestamp in labels.columns:
        latest = labels.sort_values(label_timestamp, kind="stable")
    latest = latest.drop_duplicates(request_id, keep="last").set_index(request_id)[label]
    joined = log[request_id].map(latest)
    return log.assign(**{label: pd.to_numeric(joined, errors="coerce").astype("float64")})
