"""Shadow comparison: candidate and baseline scored offline on logged requests, no traffic moves."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml_jobs.errors import BadInput
from ml_jobs.serving.shadow import ShadowThresholds, compare, psi, requests_frame

FEATURES = ["tenure_months", "monthly_charges"]


@pytest.fixture
def logged() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2000
    return pd.DataFrame({"tenure_months": rng.integers(1, 72, n), "monthly_charges": rng.normal(70, 20, n)})


def score(frame: pd.DataFrame, shift: float = 0.0) -> np.ndarray:
    z = -0.05 * frame["tenure_months"].to_numpy() + 0.03 * frame["monthly_charges"].to_numpy() + shift
    return 1 / (1 + np.exp(-z))


def test_identical_models_agree_fully_and_pass(logged):
    report = compare(logged, score, score)
    assert report.agreement == 1.0 and report.mean_abs_diff == 0.0
    assert report.psi == pytest.approx(0.0, abs=1e-9)
    assert report.passed and report.n_requests == 2000


def test_fails_a_candidate_whose_scores_moved(logged):
    report = compare(logged, score, lambda f: score(f, shift=2.0))
    assert not report.passed
    assert report.psi > 0.25 and report.agreement < 0.9
    assert any("PSI" in r for r in report.reasons) and any("agreement" in r for r in report.reasons)


def test_a_small_shift_stays_within_thresholds(logged):
    report = compare(logged, score, lambda f: score(f, shift=0.05))
    assert report.passed, report.reasons
    assert 0 < report.mean_abs_diff < 0.02


def test_fails_a_candidate_much_slower_per_row(logged):
    def slow(frame: pd.DataFrame) -> np.ndarray:
        if len(frame) == 1:
            import time

            time.sleep(0.004)
        return score(frame)

    report = compare(logged, score, slow, ShadowThresholds(max_latency_ratio=2.0), latency_rows=10)
    assert report.candidate_p95_ms >= 4.0
    assert any("latency" in r for r in report.reasons)


def test_psi_grows_with_the_shift():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 5000)
    assert psi(base, base + 0.1) < psi(base, base + 0.5) < psi(base, base + 1.0)


def test_fails_on_no_requests():
    with pytest.raises(BadInput, match="no logged requests"):
        compare(pd.DataFrame({"tenure_months": []}), score, score)


def test_requests_from_feature_columns_keep_only_the_features(logged):
    frame = requests_frame(logged.assign(request_id=range(len(logged))), FEATURES, "t")
    assert list(frame.columns) == FEATURES and len(frame) == len(logged)


def test_requests_from_payload_json_in_every_documented_shape():
    payload = pd.DataFrame(
        {
            "request": [
                json.dumps({"dataframe_records": [{"tenure_months": 1, "monthly_charges": 10.0}]}),
                json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[2, 20.0], [3, 30.0]]}}),
                json.dumps({"instances": [{"tenure_months": 4, "monthly_charges": 40.0}]}),
            ]
        }
    )
    frame = requests_frame(payload, FEATURES, "payload")
    assert frame["tenure_months"].tolist() == [1, 2, 3, 4]


def test_fails_on_a_log_without_features_or_requests():
    with pytest.raises(BadInput, match=r"t1: neither the feature columns .* present: \['x'\]"):
        requests_frame(pd.DataFrame({"x": [1]}), FEATURES, "t1")


def test_fails_on_a_request_that_is_not_json():
    with pytest.raises(BadInput, match="row 0 is not JSON"):
        requests_frame(pd.DataFrame({"request": ["{nope"]}), FEATURES, "t2")
