"""The count-based statistics agree with scipy within their stated error bounds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from ml_jobs.monitoring import engine_numpy, stats
from ml_jobs.monitoring.compare import numeric_metrics
from ml_jobs.monitoring.counts import reference_numeric_counts
from ml_jobs.monitoring.profile import build_profile
from mlops_spec.config.monitoring import DriftThresholds

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
def test_wasserstein_is_a_tight_lower_bound_of_scipys(seed: int) -> None:
    ref, cur = _random_pair(seed)
    profile, r, c = _binned(ref, cur)
    value, excess = stats.wasserstein_from_bins(
        np.asarray(profile.edges), r.counts, c.counts, r.offsets, c.offsets
    )
    exact = sps.wasserstein_distance(ref, cur)
    assert value - 1e-9 <= exact <= value + excess + 1e-9
    assert (exact - value) / ref.std() < 0.002
    assert excess / ref.std() < 0.02  # the stated worst case, relative to the reference spread


def _heavy_mixture(rng: np.random.Generator, n: int, tail: float, sigma: float, shift: float) -> np.ndarray:
    """Standard normal bulk with a lognormal(2, sigma) tail in a ``tail`` share of the rows."""
    heavy = rng.uniform(size=n) < tail
    return np.where(heavy, rng.lognormal(2.0, sigma, n), rng.normal(0, 1, n)) + shift


def test_wasserstein_flag_on_a_heavy_tailed_mixture_does_not_depend_on_binning() -> None:
    # Issue 17's case: on this column the former interpolation inside bins gave 0.106 reference
    # standard deviations, scipy 0.085, and the 0.1 threshold flagged a column that had not moved
    # that far. The distance's value is now the exact lower end of its interval.
    rng = np.random.default_rng(0)
    ref = _heavy_mixture(rng, 100_000, 0.04, 2.8, 0.0)
    cur = _heavy_mixture(rng, 100_000, 0.044, 3.08, 0.1)
    profile, r, c = _binned(ref, cur)
    value, excess = stats.wasserstein_from_bins(
        np.asarray(profile.edges), r.counts, c.counts, r.offsets, c.offsets
    )
    exact = sps.wasserstein_distance(ref, cur) / profile.spread
    value, excess = value / profile.spread, excess / profile.spread
    assert exact == pytest.approx(0.0845, abs=5e-4)
    assert value <= exact + 1e-12 and exact - value < 0.005
    assert exact <= value + excess
    thresholds = DriftThresholds()
    result = numeric_metrics("x", r, c, profile, thresholds, 500, thresholds.psi)
    row = next(m for m in result.rows if m.metric == "wasserstein_norm")
    assert row.value == pytest.approx(value) and not row.drifted


def test_wasserstein_is_exact_when_every_value_is_an_edge() -> None:
    rng = np.random.default_rng(7)
    ref, cur = rng.integers(0, 30, 5000).astype(float), rng.integers(3, 33, 4000).astype(float)
    profile, r, c = _binned(ref, cur)
    ks, _ = stats.ks_from_bins(r.counts, c.counts)
    assert ks.statistic == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
    w, excess = stats.wasserstein_from_bins(
        np.asarray(profile.edges), r.counts, c.counts, r.offsets, c.offsets
    )
    assert w == pytest.approx(sps.wasserstein_distance(ref, cur), abs=1e-9) and excess == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_js_and_chi2_statistic_match_scipy_on_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    ref = rng.integers(0, 500, k)
    cur = rng.integers(0, 500, k)
    cur[0] = 0  # a category absent from one side stays an ordinary column of the table
    assert stats.js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)
    expected = sps.chi2_contingency(np.vstack([ref, cur]), correction=False)
    result = stats.chi2_contingency_test(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    # With every expected count large the null moments are those of chi2(K - 1): scipy's p-value.
    assert result.p_value == pytest.approx(expected.pvalue, rel=0.05, abs=1e-12)


def test_chi2_null_moments_match_the_permutation_distribution() -> None:
    # A sparse 2 x 300 table (most categories seen a few times) with unequal sample sizes: the
    # exact mean and variance under the permutation null, against 20,000 permuted tables.
    rng = np.random.default_rng(3)
    p = 1 / np.arange(1, 301) ** 1.1
    ref, cur = rng.multinomial(600, p / p.sum()), rng.multinomial(1_800, p / p.sum())
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    pooled = np.repeat(np.arange(len(ref)), ref + cur)
    trials, k = 20_000, len(ref)
    draws = np.array([rng.permutation(pooled)[:600] for _ in range(trials)])
    cells = (draws + k * np.arange(trials)[:, None]).ravel()
    ref_rows = np.bincount(cells, minlength=trials * k).reshape(trials, k)
    table_cols = ref + cur
    expected = np.outer([600, 1_800], table_cols) / table_cols.sum()
    x2 = (
        (ref_rows - expected[0]) ** 2 / expected[0] + (table_cols - ref_rows - expected[1]) ** 2 / expected[1]
    ).sum(axis=1)
    mean, variance = stats.chi2_null_moments(table_cols, 600, 1_800)
    assert mean == pytest.approx(x2.mean(), rel=0.005)
    assert variance == pytest.approx(x2.var(), rel=0.04)  # sampling error of a variance of 20k draws
    assert variance < 0.8 * 2 * (len(ref) - 1)  # far below chi2(K - 1)'s: why the plain test misleads


def test_chi2_p_value_agrees_with_scipys_permutation_test_on_a_sparse_table() -> None:
    rng = np.random.default_rng(4)
    ref = rng.multinomial(400, np.full(200, 1 / 200))
    cur = rng.multinomial(400, np.r_[np.full(100, 1.3 / 200), np.full(100, 0.7 / 200)])
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    permuted = sps.chi2_contingency(
        table, correction=False, method=sps.PermutationMethod(n_resamples=4_000, rng=5)
    ).pvalue
    ours = stats.chi2_contingency_test(ref, cur).p_value
    asymptotic = sps.chi2_contingency(table, correction=False).pvalue
    assert abs(ours - permuted) < 0.02 < abs(asymptotic - permuted)


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


def _awkward_columns() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reference and window pairs that stress the lookup table: tails, ties, spikes, offsets."""
    rng = np.random.default_rng(12)
    n = 300_000
    spike = np.where(rng.uniform(size=n) < 0.2, 1.0 + rng.normal(0, 1e-9, n), rng.normal(0, 1, n))
    return {
        "normal far from zero": (rng.normal(1e6, 2, n), rng.normal(1e6 + 0.5, 2, n)),
        "heavy tails": (rng.standard_cauchy(n), rng.standard_cauchy(n) * 1.5),
        "integers with ties": (rng.integers(0, 50, n).astype(float), rng.integers(-5, 60, n).astype(float)),
        "a spike of near-ties": (spike, spike[::-1] + 1e-10),
        "window outside the reference": (rng.normal(0, 1, n), rng.normal(40, 30, n)),
    }


@pytest.mark.parametrize("case", list(_awkward_columns()))
def test_lookup_table_bins_equal_binary_search_bins(case: str) -> None:
    ref, cur = _awkward_columns()[case]
    cur = cur.copy()
    cur[:7] = [np.nan, np.inf, -np.inf, ref.min(), ref.max(), np.nextafter(ref.max(), -np.inf), 1e308]
    profile = build_profile(pd.DataFrame({"x": ref}), ["x"], []).numeric["x"]
    binner = engine_numpy.Binner.for_profile(profile)
    assert binner is not None  # every case here is worth a table
    if case == "a spike of near-ties":
        assert binner.any_unresolved and 0 < binner.fallback_share < 0.5  # binary search for the spike
    finite = cur[np.isfinite(cur)]
    edges = np.asarray(profile.edges)
    assert np.array_equal(binner.bins(finite), np.searchsorted(edges, finite, side="right"))
    fast = engine_numpy.count_numeric(pd.Series(cur), slice(None), profile, binner)
    slow = engine_numpy.count_numeric(pd.Series(cur), slice(None), profile, None)
    assert np.array_equal(fast.counts, slow.counts) and (fast.n_null, fast.n_inf) == (1, 2)
    np.testing.assert_allclose(fast.offsets, slow.offsets, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("en", [stats.KS_EXACT_MAX_N + 1, 100_000])
def test_ks_limiting_p_value_is_conservative_and_close_above_the_exact_size(en: int) -> None:
    for x in (0.8, 1.36, 1.63, 2.0, 2.3):  # p from about 0.5 down to 5e-5
        exact, limit = sps.kstwo.sf(x / math.sqrt(en), en), sps.kstwobign.sf(x)
        assert exact <= limit <= exact * 1.02


def test_every_new_category_is_its_own_category_in_every_statistic() -> None:
    # 100 categories new to the reference, 1 row each (10% of the window). Pooled into one slot
    # they looked like one category holding 10%: L-infinity 0.10, PSI 0.70, one degree of freedom.
    from ml_jobs.monitoring.compare import categorical_metrics
    from ml_jobs.monitoring.counts import reference_categorical_counts
    from ml_jobs.monitoring.engine_numpy import categorical_counts_from_values
    from ml_jobs.monitoring.profile import CategoricalProfile

    profile = CategoricalProfile(["a", "b"], [500, 500], 1_000, 0)
    window = categorical_counts_from_values(
        {"a": 450, "b": 450} | {f"new{i}": 1 for i in range(100)}, profile, 1_000, 0
    )
    result = categorical_metrics("c", reference_categorical_counts(profile), window, DriftThresholds(), 1)
    value = {m.metric: m.value for m in result.rows}
    ref, cur = np.r_[500, 500, np.zeros(100)], np.r_[450, 450, np.ones(100)]
    assert value["l_infinity_distance"] == pytest.approx(0.05)
    assert value["psi"] == pytest.approx(stats.psi(ref, cur)) and value["psi"] < 0.25
    assert value["unseen_share"] == pytest.approx(0.1)
    table = np.vstack([ref, cur])
    assert value["chi2_statistic"] == pytest.approx(sps.chi2_contingency(table, correction=False).statistic)
