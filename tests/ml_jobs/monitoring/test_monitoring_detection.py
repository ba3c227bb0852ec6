"""Drift injected in known columns is found in exactly those columns; undrifted data raises nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from ml_jobs.monitoring import synthetic
from ml_jobs.monitoring.engine_numpy import count_window
from ml_jobs.monitoring.profile import build_profile
from ml_jobs.monitoring.run import compare_windows
from mlops_spec.config.monitoring import MonitoringSpec

DRIFTED = frozenset({"num_01", "num_06", "num_15", "cat_2"})
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{j}" for j in range(5)]


def _drifted_columns(n: int, drifted: frozenset[str]) -> tuple[set[str], float]:
    reference = synthetic.features(n, drifted=frozenset(), seed=11)
    current = synthetic.features(n, drifted=drifted, seed=12)
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    window = count_window(current, slice(None), profile, score=None)
    [result] = compare_windows(profile, [window], MonitoringSpec(), NUMERIC + CATEGORICAL)
    return {c for c, d in result.baseline.drifted.items() if d}, result.baseline.dataset_drift_share


@pytest.mark.parametrize("n", [100_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
def test_flags_exactly_the_drifted_columns(n: int) -> None:
    found, share = _drifted_columns(n, DRIFTED)
    assert found == DRIFTED
    assert share == pytest.approx(len(DRIFTED) / 25)


@pytest.mark.parametrize("n", [100_000, pytest.param(1_000_000, marks=pytest.mark.slow)])
def test_flags_nothing_on_undrifted_data(n: int) -> None:
    found, share = _drifted_columns(n, frozenset())
    assert found == set()
    assert share == 0.0


def test_dataset_drift_needs_the_configured_share() -> None:
    reference = synthetic.features(20_000, seed=3)
    current = synthetic.features(20_000, drifted=DRIFTED, seed=4)
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    window = count_window(current, slice(None), profile, score=None)
    low = compare_windows(profile, [window], MonitoringSpec(drift_share=0.1), NUMERIC + CATEGORICAL)[0]
    high = compare_windows(profile, [window], MonitoringSpec(drift_share=0.5), NUMERIC + CATEGORICAL)[0]
    assert low.baseline.dataset_drift and not high.baseline.dataset_drift


def test_importance_weighting_counts_what_matters() -> None:
    reference = synthetic.features(20_000, seed=3)
    current = synthetic.features(20_000, drifted=frozenset({"num_01"}), seed=4)
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    window = count_window(current, slice(None), profile, score=None)
    importances = {c: 1.0 for c in NUMERIC + CATEGORICAL} | {"num_01": 24.0}
    spec = MonitoringSpec(importance_weighted=True)
    [result] = compare_windows(profile, [window], spec, NUMERIC + CATEGORICAL, importances=importances)
    assert result.baseline.dataset_drift_share == pytest.approx(24 / 48)
    assert result.baseline.dataset_drift


def test_fails_importance_weighting_without_importances() -> None:
    reference = synthetic.features(2_000, seed=3)
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    window = count_window(reference, slice(None), profile, score=None)
    with pytest.raises(ValueError, match="importance_weighted"):
        compare_windows(profile, [window], MonitoringSpec(importance_weighted=True), NUMERIC + CATEGORICAL)


def test_profile_survives_a_json_round_trip(tmp_path) -> None:
    from ml_jobs.monitoring.profile import ReferenceProfile

    profile = build_profile(synthetic.features(5_000, n_numeric=3, n_categorical=2, seed=5))
    loaded = ReferenceProfile.load(profile.save(tmp_path / "profile.json"))
    assert loaded == profile
    frame = pd.read_json(tmp_path / "profile.json", typ="series")
    assert set(frame["numeric"]) == {"num_00", "num_01", "num_02"}
