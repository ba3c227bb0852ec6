"""Drift statistics computed from counts, shared by the numpy and Spark engines.

Every function takes bin or category counts (never raw rows), so a window costs one counting pass
whichever engine produced the counts. Numeric bins are left-closed on the reference edges
``e_0 < ... < e_m``: bin 0 is ``(-inf, e_0)``, bin ``i`` is ``[e_(i-1), e_i)``, the last bin is
``[e_m, +inf)``. ``e_0`` and ``e_m`` are the reference minimum and maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

PSI_EPSILON = 1e-4
"""Share given to an empty bin so that PSI stays finite (a common choice; it caps one bin's term)."""


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(len(counts), dtype=float)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index ``sum((c - r) * ln(c / r))`` with empty shares clipped to ``epsilon``."""
    r = np.clip(_shares(np.asarray(ref_counts, dtype=float)), epsilon, None)
    c = np.clip(_shares(np.asarray(cur_counts, dtype=float)), epsilon, None)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2 (0 = same, 1 = disjoint), as scipy's ``jensenshannon(base=2)``."""
    p = _shares(np.asarray(ref_counts, dtype=float))
    q = _shares(np.asarray(cur_counts, dtype=float))
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def tv_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Total-variation distance: half the L1 distance of the shares."""
    return float(
        0.5 * np.abs(_shares(np.asarray(ref_counts, float)) - _shares(np.asarray(cur_counts, float))).sum()
    )


def l_infinity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Largest absolute change of one share."""
    return float(
        np.abs(_shares(np.asarray(ref_counts, float)) - _shares(np.asarray(cur_counts, float))).max()
    )


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float


def chi2_contingency_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> TestResult:
    """Chi-square test of homogeneity on the 2 x K table (reference row, current row).

    Both samples are random, so this is the two-sample test (scipy ``chi2_contingency`` without
    Yates' correction), not a goodness-of-fit test against the reference as fixed expectations; a
    category absent from one side is an ordinary column of the table. Categories absent from both
    sides are dropped.
    """
    table = np.vstack([np.asarray(ref_counts, float), np.asarray(cur_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    row_totals = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(row_totals == 0):
        return TestResult(0.0, 1.0)
    expected = np.outer(row_totals, table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    return TestResult(statistic, float(sps.chi2.sf(statistic, dof)))


def ks_from_bins(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[TestResult, float]:
    """Two-sample KS statistic from counts on shared bins, its asymptotic p-value, and an error bound.

    The ECDFs are exact at every bin edge, so the binned statistic ``D_b`` is the largest gap over the
    edges and never exceeds the exact ``D``. Inside a bin both ECDFs move by at most that bin's share,
    so ``D - D_b <= max over bins of max(p_ref, p_cur)``; with 2,000 reference-quantile bins the
    reference share is 1/2,000 per bin. The bound is returned so tests and callers can use it. The
    p-value is scipy's asymptotic one (``ks_2samp(method="asymp")``): ``kstwo.sf(D, round(n*m/(n+m)))``.
    """
    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    n, m = r.sum(), c.sum()
    if n == 0 or m == 0:
        return TestResult(float("nan"), float("nan")), float("nan")
    p, q = r / n, c / m
    d = float(np.abs(np.cumsum(p)[:-1] - np.cumsum(q)[:-1]).max(initial=0.0))
    bound = float(np.maximum(p, q).max())
    en = round(n * m / (n + m))
    return TestResult(d, float(np.clip(sps.kstwo.sf(d, max(en, 1)), 0.0, 1.0))), bound


def _abs_integral_linear(a: np.ndarray, b: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Integral of ``|g|`` over a segment where ``g`` moves linearly from ``a`` to ``b``."""
    same_sign = a * b >= 0
    total = np.abs(a) + np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(total > 0, (a * a + b * b) / total, 0.0)
    return width * np.where(same_sign, (np.abs(a) + np.abs(b)) / 2, crossing / 2)


@dataclass(frozen=True)
class TailSums:
    """Per sample: ``sum(e_0 - x)`` over ``x < e_0`` and ``sum(x - e_m)`` over ``x >= e_m``."""

    below: float
    above: float


def wasserstein_from_bins(
    edges: np.ndarray,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    ref_tails: TailSums,
    cur_tails: TailSums,
) -> tuple[float, float]:
    """Wasserstein-1 distance ``integral |F_ref - F_cur| dx`` from binned counts, with an error bound.

    Inside bins the ECDFs are interpolated linearly between their exact values at the edges; the
    true and interpolated gaps both lie in an interval of width ``p_ref + p_cur`` of that bin, so the
    error is at most ``sum(width * (p_ref + p_cur))`` over interior bins. Outside ``[e_0, e_m]`` the
    integral of one sample's ECDF equals its tail sum divided by its size, which the counting pass
    records; the gap there is exact when only one sample has a tail (always the case against the
    reference, whose tails are empty) and otherwise within ``2 * min(tail_ref, tail_cur)``.
    """
    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    n, m = r.sum(), c.sum()
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    p, q = r / n, c / m
    gap = np.cumsum(p) - np.cumsum(
        q
    )  # gap[i] = F_ref - F_cur just below edge i+1 (i.e. at e_i from the right)
    widths = np.diff(edges)
    # Interior bin i (1..len(edges)-1) spans [e_(i-1), e_i): the gap moves from gap[i-1] to gap[i].
    interior = _abs_integral_linear(gap[:-2], gap[1:-1], widths).sum() if len(edges) > 1 else 0.0
    error = float((widths * (p[1:-1] + q[1:-1])).sum()) if len(edges) > 1 else 0.0
    tails = 0.0
    for ref_tail, cur_tail in (
        (ref_tails.below / n, cur_tails.below / m),
        (ref_tails.above / n, cur_tails.above / m),
    ):
        tails += abs(ref_tail - cur_tail)
        error += 2 * min(ref_tail, cur_tail)
    return float(interior + tails), error
