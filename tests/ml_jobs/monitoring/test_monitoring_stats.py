"""The count-based statistics agree with scipy within their stated error bounds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from ml_jobs.monitoring import engine_numpy, stats
from ml_jobs.monitoring.counts import reference_numeric_counts
from ml_jobs.monitoring.profile import build_profile

SEEDS = range(6)


def _binned(ref: np.ndarray, cur: np.ndarray, fine_bins: int = 2000):
    profile = build_profile(pd.DataFrame({"x": ref}), ["x"], [], fine_bins=fine_bins).numeric["x"]
    return (
        profile,
        reference_numeric_counts(profile),
        engine_numpy.count_numeric(pd.Series(cur), slice(None), profile),
    )


def _random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_ref, n_cur = rng.integers(2_000, 40_000, size=2)
    shift, scale = rng.uniform(-0.3, 0.3), rng.uniform(0.8, 1.3)
    if seed % 2:
        return rng.normal(size=n_ref), rng.normal(shift, scale, size=n_cur)
    return rng.gamma(2.0, 1.0, size=n_ref), rng.gamma(2.0, scale, size=n_cur) + shift


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_matches_scipy_within_the_binning_bound(seed: int) -> None:
    ref, cur = _random_pair(seed)
    _, r, c = _binned(ref, cur)
    result, bound = stats.ks_from_bins(r.counts, c.counts)
    exact = sps.ks_2samp(ref, cur, method="asymp")
    # The binned statistic is a lower bound of the exact one, short by at most the largest bin share.
    assert exact.statistic - bound - 1e-12 <= result.statistic <= exact.statistic + 1e-12
    # Reference-quantile bins hold at most 1/2000 of continuous reference data (+ one value).
    assert r.counts.max() / r.counts.sum() <= 1 / 2000 + 1 / len(ref)
    # The p-value is scipy's asymptotic formula at the binned statistic, so it brackets scipy's.
    en = round(len(ref) * len(cur) / (len(ref) + len(cur)))
    assert sps.kstwo.sf(result.statistic + bound, en) - 1e-12 <= exact.pvalue <= result.p_value + 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_wasserstein_matches_scipy_within_the_binning_bound(seed: int) -> None:
    ref, cur = _random_pair(seed)
    profile, r, c = _binned(ref, cur)
    value, bound = stats.wasserstein_from_bins(
        np.asarray(profile.edges), r.counts, c.counts, r.tails, c.tails
    )
    exact = sps.wasserstein_distance(ref, cur)
    assert abs(value - exact) <= bound + 1e-9
    assert bound / ref.std() < 0.02  # the stated tolerance, relative to the reference spread


def test_ks_is_exact_and_wasserstein_within_bound_when_every_value_is_an_edge() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.integers(0, 30, 5000).astype(float), rng.integers(3, 33, 4000).astype(float)
    profile, r, c = _binned(ref, cur)
    ks, _ = stats.ks_from_bins(r.counts, c.counts)
    assert ks.statistic == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
    w, bound = stats.wasserstein_from_bins(np.asarray(profile.edges), r.counts, c.counts, r.tails, c.tails)
    # Linear interpolation inside a bin is not exact for atoms, but stays within the bound.
    assert abs(w - sps.wasserstein_distance(ref, cur)) <= bound


@pytest.mark.parametrize("seed", SEEDS)
def test_js_and_chi2_match_scipy_on_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    ref = rng.integers(0, 500, k)
    cur = rng.integers(0, 500, k)
    cur[0] = 0  # a category absent from one side stays an ordinary column of the table
    assert stats.js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)
    expected = sps.chi2_contingency(np.vstack([ref, cur]), correction=False)
    result = stats.chi2_contingency_test(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)


def test_psi_matches_a_hand_worked_example() -> None:
    # Reference shares 25/25/25/25 %, current 10/20/30/40 %:
    # (0.10-0.25)ln(0.10/0.25) = 0.137444; (0.20-0.25)ln(0.8) = 0.011157;
    # (0.30-0.25)ln(1.2) = 0.009116;        (0.40-0.25)ln(1.6) = 0.070500.  Sum = 0.228217.
    assert stats.psi([25, 25, 25, 25], [10, 20, 30, 40]) == pytest.approx(0.228217, abs=1e-6)


def test_psi_gives_empty_bins_epsilon_instead_of_infinity() -> None:
    value = stats.psi([50, 50, 0], [50, 40, 10])
    # (0.1 - 1e-4) * ln(0.1 / 1e-4) dominates: finite and large.
    assert math.isfinite(value) and value > 0.6


def test_identical_distributions_give_zero_distances() -> None:
    counts = np.array([5, 10, 20, 0, 3])
    assert stats.psi(counts, counts * 3) == pytest.approx(0.0)
    assert stats.js_distance(counts, counts) == 0.0
    assert stats.tv_distance(counts, counts) == 0.0
    assert stats.l_infinity(counts, counts) == 0.0
    assert stats.chi2_contingency_test(counts, counts).p_value == pytest.approx(1.0)


def test_tv_and_l_infinity_on_a_worked_example() -> None:
    assert stats.tv_distance([1, 1], [3, 1]) == pytest.approx(0.25)  # shares .5/.5 vs .75/.25
    assert stats.l_infinity([1, 1, 2], [2, 1, 1]) == pytest.approx(0.25)
