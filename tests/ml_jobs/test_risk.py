"""The model risk score: a weighted sum of five components scaled to [0, 1], and its tier.

What it proves: the formula as written in the card (weights, scales, caps, unmeasured = 0.5, tiers).
What it does not prove: that the weights are the right ones for a given organisation (policy).
"""

from __future__ import annotations

import pytest

from ml_jobs.explain.risk import FORMULA, UNMEASURED, WEIGHTS, risk_score, tier_of


def test_weights_sum_to_one_so_the_score_stays_in_zero_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    worst = risk_score("critical", 1.0, 1.0, 1.0, 1.0)
    best = risk_score("low", 0.0, 0.0, 0.0, 0.0)
    assert (worst.score, worst.tier) == (1.0, "high")
    assert (best.score, best.tier) == (pytest.approx(0.3 * 0.25), "low")


def test_each_component_is_the_raw_value_over_its_scale_capped_at_one() -> None:
    r = risk_score("medium", 0.05, 0.02, 0.1, 0.5)
    assert r.components == {
        "criticality": 0.5,
        "fairness_gap": pytest.approx(0.25),
        "calibration_error": pytest.approx(0.2),
        "segment_spread": pytest.approx(0.5),
        "drift_sensitivity": 1.0,
    }
    expected = 0.3 * 0.5 + 0.2 * 0.25 + 0.15 * 0.2 + 0.15 * 0.5 + 0.2 * 1.0
    assert r.score == pytest.approx(expected, abs=1e-4)


def test_an_unmeasured_component_counts_as_half_not_as_zero() -> None:
    r = risk_score("high", None, 0.0, None, 0.0)
    assert r.components["fairness_gap"] == r.components["segment_spread"] == UNMEASURED
    assert r.raw["fairness_gap"] is None
    assert r.score > risk_score("high", 0.0, 0.0, 0.0, 0.0).score


def test_criticality_alone_moves_the_tier() -> None:
    measured = (0.09, 0.045, 0.09, 0.045)  # every measured component at 0.45: 0.315 of the score
    assert [risk_score(c, *measured).tier for c in ("low", "medium", "high", "critical")] == [
        "low",  # 0.39
        "medium",  # 0.465
        "medium",  # 0.54
        "high",  # 0.615
    ]
    assert (tier_of(0.3999), tier_of(0.4), tier_of(0.6)) == ("low", "medium", "high")


def test_the_formula_names_every_weight_and_scale() -> None:
    for key, weight in WEIGHTS.items():
        assert f"{weight:.2f}*{key}" in FORMULA
    assert "min(1, value / 0.1)" in FORMULA and "unmeasured = 0.5" in FORMULA


def test_fails_on_an_unknown_criticality() -> None:
    with pytest.raises(
        ValueError, match="unknown criticality 'severe'; allowed: low, medium, high, critical"
    ):
        risk_score("severe", 0.0, 0.0, 0.0, 0.0)
