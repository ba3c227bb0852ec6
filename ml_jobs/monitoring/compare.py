"""Per-column metrics of one comparison (reference or previous window vs the current window).

Effect sizes (PSI, KS statistic, JS, Wasserstein, total variation, unseen share) say how large a
change is; the column's test (KS or chi-square over the union of categories) says whether it is
more than sampling noise, and ``alerting`` requires both. A null-share change is a data-quality
finding on its own, but only when a two-sample test on the null counts is significant at
``p_value / number of columns`` (Bonferroni), so small windows do not raise it by chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ml_jobs.monitoring import stats
from ml_jobs.monitoring.counts import (
    CategoricalCounts,
    ColumnCounts,
    NumericCounts,
    SchemaFinding,
    union_counts,
)
from ml_jobs.monitoring.profile import NumericProfile, ReferenceProfile
from mlops_spec.config.monitoring import DriftThresholds

NAN = float("nan")

OK, INSUFFICIENT, SCHEMA, INFO = "ok", "insufficient_data", "schema", "info"


@dataclass
class MetricRow:
    column: str
    metric: str
    value: float
    threshold: float = NAN
    drifted: bool = False
    status: str = OK


@dataclass
class ColumnResult:
    column: str
    rows: list[MetricRow] = field(default_factory=list)
    p_value: float | None = None
    """Raw p-value of the column's test; adjusted across columns in ``alerting``."""
    effect_breach: bool = False
    quality_breach: bool = False
    status: str = OK

    def add(self, metric: str, value: float, threshold: float = NAN, status: str | None = None) -> MetricRow:
        breached = not math.isnan(threshold) and not math.isnan(value) and value >= threshold
        row = MetricRow(self.column, metric, float(value), threshold, breached, status or self.status)
        if row.status != OK:
            row.drifted = False
        self.rows.append(row)
        return row


def _share(part: int, total: int) -> float:
    return part / total if total else NAN


def _common(
    result: ColumnResult,
    ref: NumericCounts | CategoricalCounts,
    cur: NumericCounts | CategoricalCounts,
    t: DriftThresholds,
    min_samples: int,
    n_columns: int = 1,
) -> None:
    """Null-share and row-count deltas: defined for every column kind."""
    gate = None if cur.n_rows >= min_samples else INSUFFICIENT
    row = result.add(
        "null_share_delta",
        abs(_share(cur.n_null, cur.n_rows) - _share(ref.n_null, ref.n_rows)),
        t.null_share_delta,
        gate,
    )
    nulls = stats.chi2_contingency_test(
        np.array([ref.n_null, ref.n_rows - ref.n_null]), np.array([cur.n_null, cur.n_rows - cur.n_null])
    )
    result.add("null_share_p_value", nulls.p_value, status=INFO)
    row.drifted &= nulls.p_value < t.p_value / max(n_columns, 1)
    result.quality_breach |= row.drifted
    result.add("null_share", _share(cur.n_null, cur.n_rows), status=INFO)
    result.add("row_count_delta", (cur.n_rows - ref.n_rows) / ref.n_rows if ref.n_rows else NAN, status=INFO)


def _coarse(counts: np.ndarray, profile: NumericProfile) -> np.ndarray:
    """Fine-bin counts summed into the coarse PSI/JS bins (coarse edges are fine edges)."""
    edges, coarse = np.asarray(profile.edges), np.asarray(profile.coarse_edges)
    index = np.concatenate(([0], np.searchsorted(coarse, edges, side="right")))
    return np.bincount(index, weights=counts, minlength=len(coarse) + 1)


def numeric_metrics(
    column: str,
    ref: NumericCounts,
    cur: NumericCounts,
    profile: NumericProfile,
    t: DriftThresholds,
    min_samples: int,
    psi_threshold: float,
    n_columns: int = 1,
) -> ColumnResult:
    result = ColumnResult(column)
    _common(result, ref, cur, t, min_samples, n_columns)
    result.add("inf_share", _share(cur.n_inf, cur.n_rows), status=INFO)
    if not profile.edges or ref.n_valid == 0 or cur.n_valid == 0:
        result.status = INSUFFICIENT  # all-null reference or window: nothing to compare but nulls
        return result
    if min(ref.n_valid, cur.n_valid) < min_samples:
        result.status = INSUFFICIENT
    edges = np.asarray(profile.edges)
    ks, ks_bound = stats.ks_from_bins(ref.counts, cur.counts)
    wasserstein, w_bound = stats.wasserstein_from_bins(
        edges, ref.counts, cur.counts, ref.offsets, cur.offsets
    )
    ref_coarse, cur_coarse = _coarse(ref.counts, profile), _coarse(cur.counts, profile)
    breaches = [
        result.add("psi", stats.psi(ref_coarse, cur_coarse), psi_threshold),
        result.add("ks_statistic", ks.statistic, t.ks_statistic),
        result.add("js_distance", stats.js_distance(ref_coarse, cur_coarse), t.js_distance),
        # The value is the lower end of the distance's interval: binning never raises this flag.
        result.add("wasserstein_norm", wasserstein / profile.spread, t.wasserstein_norm),
    ]
    result.add("ks_statistic_error_bound", ks_bound, status=INFO)
    result.add("wasserstein_norm_error_bound", w_bound / profile.spread, status=INFO)
    result.add("mean", cur.total / cur.n_valid, status=INFO)
    result.effect_breach = any(r.drifted for r in breaches)
    result.p_value = ks.p_value
    return result


def categorical_metrics(
    column: str,
    ref: CategoricalCounts,
    cur: CategoricalCounts,
    t: DriftThresholds,
    min_samples: int,
    n_columns: int = 1,
) -> ColumnResult:
    """Every statistic over the union of both sides' categories: each category unseen in the
    reference is its own category (its own degree of freedom, its own PSI and L-infinity term)."""
    result = ColumnResult(column)
    _common(result, ref, cur, t, min_samples, n_columns)
    if ref.n_valid == 0 or cur.n_valid == 0:
        result.status = INSUFFICIENT
        return result
    if min(ref.n_valid, cur.n_valid) < min_samples:
        result.status = INSUFFICIENT
    r, c = union_counts(ref, cur)
    chi2 = stats.chi2_contingency_test(r, c)
    # New categories are an effect like the others: at a few rows per category many are missing
    # from any sample by chance, so only the test over the union says whether they are news.
    unseen = _share(cur.n_unseen, cur.n_valid)
    breaches = [
        result.add("js_distance", stats.js_distance(r, c), t.js_distance),
        result.add("psi", stats.psi(r, c), t.psi),
        result.add("tv_distance", stats.tv_distance(r, c), t.tv_distance),
        result.add("unseen_share", unseen, t.unseen_share),
    ]
    result.add("l_infinity_distance", stats.l_infinity(r, c), status=INFO)
    result.add("chi2_statistic", chi2.statistic, status=INFO)
    result.add("unseen_categories", float(cur.n_unseen_distinct), status=INFO)
    result.effect_breach = any(r.drifted for r in breaches)
    result.p_value = chi2.p_value
    return result


def schema_metrics(column: str, finding: SchemaFinding) -> ColumnResult:
    result = ColumnResult(column, status=SCHEMA)
    metric = "column_missing" if finding.kind == "missing" else "dtype_mismatch"
    result.rows.append(MetricRow(column, metric, 1.0, 1.0, True, SCHEMA))
    result.quality_breach = True
    return result


def compare_column(
    column: str,
    profile: ReferenceProfile,
    ref: ColumnCounts,
    cur: ColumnCounts,
    t: DriftThresholds,
    min_samples: int,
    score_column: str | None,
) -> ColumnResult:
    if isinstance(cur, SchemaFinding):
        return schema_metrics(column, cur)
    if isinstance(ref, SchemaFinding):  # previous window lacked it: nothing to compare against
        result = ColumnResult(column, status=INSUFFICIENT)
        result.add("null_share", _share(cur.n_null, cur.n_rows), status=INFO)
        return result
    if isinstance(cur, NumericCounts) and isinstance(ref, NumericCounts):
        psi_threshold = t.score_psi if column == score_column else t.psi
        return numeric_metrics(
            column, ref, cur, profile.numeric[column], t, min_samples, psi_threshold, len(profile.columns)
        )
    assert isinstance(cur, CategoricalCounts) and isinstance(ref, CategoricalCounts)
    return categorical_metrics(column, ref, cur, t, min_samples, len(profile.columns))
