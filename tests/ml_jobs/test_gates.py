import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from ml_jobs.validation import gates


def test_min_metric_passes_at_and_above_the_floor_and_fails_below() -> None:
    assert gates.min_metric("g", {"roc_auc": 0.75}, "roc_auc", 0.75).status == "passed"
    assert gates.min_metric("g", {"roc_auc": 0.7499}, "roc_auc", 0.75).status == "failed"


def test_no_regression_is_skipped_without_champion_and_bounded_by_delta() -> None:
    assert gates.no_regression(0.8, None, 0.01, None).status == "skipped"
    assert gates.no_regression(0.795, 0.80, 0.01, "1").status == "passed"
    failed = gates.no_regression(0.78, 0.80, 0.01, "1")
    assert failed.status == "failed" and failed.value > 0.01


def test_segment_floor_judges_the_worst_large_segment_only() -> None:
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 100)
    good = y * 0.8 + rng.uniform(0, 0.2, 200)  # separable
    proba = good.copy()
    segments = pd.Series(["a"] * 100 + ["b"] * 90 + ["tiny"] * 10)
    proba[100:190] = rng.uniform(0, 1, 90)  # segment b is noise
    result = gates.segment_floor(segments, y, proba, 0.65)
    assert result.status == "failed" and "'b'" in result.detail
    assert result.data["too_small"] == ["tiny"]
    assert gates.segment_floor(segments[:100], y[:100], good[:100], 0.65).status == "passed"
    assert gates.segment_floor(segments, y, proba, None).status == "skipped"


def test_demographic_parity_compares_positive_rates_between_groups() -> None:
    groups = pd.Series(["f"] * 50 + ["m"] * 50)
    fair = np.tile([0.9, 0.1], 50)
    assert gates.demographic_parity(groups, fair, 0.1).status == "passed"
    unfair = np.array([0.9] * 50 + [0.1] * 50)
    result = gates.demographic_parity(groups, unfair, 0.1)
    assert result.status == "failed" and result.value == 1.0


def test_latency_uses_the_95th_percentile() -> None:
    assert gates.latency([[1.0] * 95 + [100.0] * 5], 50).status == "passed"
    assert gates.latency([[1.0] * 90 + [100.0] * 10], 50).status == "failed"


def test_latency_judges_the_best_round_so_one_noisy_round_does_not_fail_it() -> None:
    noisy, quiet = [900.0] * 20, [10.0] * 20
    result = gates.latency([noisy, quiet, noisy], 50)
    assert result.status == "passed" and result.value == 10.0
    assert gates.latency([noisy, noisy], 50).status == "failed"


def test_model_size_budget() -> None:
    assert gates.model_size(10.0, 50).status == "passed"
    assert gates.model_size(60.0, 50).status == "failed"


def test_signature_must_match_the_champion_inputs() -> None:
    base = pd.DataFrame({"a": [1.0], "b": ["x"]})
    same = infer_signature(base, np.array([1]))
    renamed = infer_signature(base.rename(columns={"b": "c"}), np.array([1]))
    retyped = infer_signature(base.assign(a=["1"]), np.array([1]))
    assert gates.signature_compatible(same, same, None).status == "skipped"
    assert gates.signature_compatible(same, same, "1").status == "passed"
    assert gates.signature_compatible(renamed, same, "1").status == "failed"
    result = gates.signature_compatible(retyped, same, "1")
    assert result.status == "failed" and "type changed" in result.detail
