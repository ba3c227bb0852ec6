"""run_monitoring end to end: windows, bad input outcomes, performance, the retraining decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ml_jobs.monitoring import synthetic
from ml_jobs.monitoring.alerting import RetrainState, WindowVerdict, adjust_p_values, decide
from ml_jobs.monitoring.performance import binned_auc, wilson
from ml_jobs.monitoring.run import run_monitoring
from mlops_spec.config.monitoring import MonitoringSpec

NUMERIC = ["num_00", "num_01", "num_02", "num_03"]
CATEGORICAL = ["cat_0", "cat_1"]
KW = {"numeric_features": NUMERIC, "categorical_features": CATEGORICAL}


def _row(metrics: pd.DataFrame, column: str, metric: str, drift_type: str = "BASELINE") -> pd.Series:
    rows = metrics[
        (metrics.column == column) & (metrics.metric == metric) & (metrics.drift_type == drift_type)
    ]
    return rows.iloc[-1]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return synthetic.features(5_000, n_numeric=4, n_categorical=2, seed=21)


def test_windows_get_baseline_and_consecutive_rows_and_a_report(reference, tmp_path) -> None:
    log = pd.concat(
        [
            synthetic.inference_log(2_000, "2026-03-01", days=2, seed=3),
            synthetic.inference_log(1_000, "2026-03-03", days=1, seed=4, drifted=frozenset({"num_02"})),
        ],
        ignore_index=True,
    )
    result = run_monitoring(
        reference,
        log,
        synthetic.labels_for(log),
        MonitoringSpec(min_samples=300),
        **KW,
        model_name="m",
        model_version="3",
        report_dir=tmp_path,
    )
    m = result.metrics
    assert sorted(m.window_start.unique()) == [pd.Timestamp(f"2026-03-0{d}", tz="UTC") for d in (1, 2, 3)]
    assert set(m.drift_type) == {"BASELINE", "CONSECUTIVE"}
    assert set(m.model_version) == {"3"}
    assert result.drifted_columns["2026-03-03T00:00:00+00:00"] == ["num_02"]
    html = result.report_path.read_text()
    assert "data:image/png;base64" in html and "num_02" in html


def test_small_window_is_insufficient_data_not_drift(reference) -> None:
    log = synthetic.inference_log(100, drifted=frozenset({"num_01"}))
    result = run_monitoring(reference, log, None, MonitoringSpec(min_samples=500), **KW)
    drift = _row(result.metrics, "num_01", "drift")
    assert not drift.drifted and drift.status == "insufficient_data"
    assert result.windows[0].verdict.breach is None


def test_missing_column_is_a_schema_finding(reference) -> None:
    log = synthetic.inference_log(2_000).drop(columns=["num_03"])
    row = _row(
        run_monitoring(reference, log, None, MonitoringSpec(), **KW).metrics, "num_03", "column_missing"
    )
    assert row.drifted and row.status == "schema"


def test_all_null_column_drifts_on_null_share_only(reference) -> None:
    log = synthetic.inference_log(2_000).assign(num_01=np.nan)
    m = run_monitoring(reference, log, None, MonitoringSpec(), **KW).metrics
    assert _row(m, "num_01", "null_share_delta").value == 1.0 and _row(m, "num_01", "drift").drifted
    assert "ks_statistic" not in set(m[m.column == "num_01"].metric)


def test_constant_column_and_infinities_are_defined(reference) -> None:
    ref = reference.assign(num_00=5.0)
    log = synthetic.inference_log(2_000).assign(num_00=5.0)
    log.loc[:9, "num_02"] = np.inf
    m = run_monitoring(ref, log, None, MonitoringSpec(), **KW).metrics
    assert _row(m, "num_00", "ks_statistic").value == 0.0 and _row(m, "num_00", "psi").value == pytest.approx(
        0
    )
    assert _row(m, "num_02", "inf_share").value == pytest.approx(10 / 2_000)
    assert np.isfinite(_row(m, "num_02", "wasserstein_norm").value)


def test_new_categories_show_as_unseen_share(reference) -> None:
    log = synthetic.inference_log(2_000)
    log.loc[:399, "cat_1"] = "brand-new"
    m = run_monitoring(reference, log, None, MonitoringSpec(), **KW).metrics
    assert _row(m, "cat_1", "unseen_share").value == pytest.approx(0.2)
    assert _row(m, "cat_1", "unseen_categories").value == 1 and _row(m, "cat_1", "drift").drifted


def test_numeric_strings_are_coerced_and_words_are_a_dtype_mismatch(reference) -> None:
    log = synthetic.inference_log(2_000)
    log["num_01"] = log["num_01"].astype(str)
    log["num_02"] = "n/a"
    m = run_monitoring(reference, log, None, MonitoringSpec(), **KW).metrics
    assert not _row(m, "num_01", "drift").drifted
    assert _row(m, "num_02", "dtype_mismatch").drifted


def test_fails_on_an_empty_log(reference) -> None:
    empty = synthetic.inference_log(10).iloc[:0]
    result = run_monitoring(reference, empty, None, MonitoringSpec(), **KW)
    assert result.windows == [] and not result.decision.retrain
    with pytest.raises(ValueError, match="no baseline window"):
        run_monitoring(None, empty, None, MonitoringSpec(reference="baseline_window"), **KW)


def test_realised_auc_matches_sklearn_and_estimate_is_labelled(reference) -> None:
    log = synthetic.inference_log(4_000)
    labels = synthetic.labels_for(log)
    m = run_monitoring(reference, log, labels, MonitoringSpec(), **KW).metrics
    auc = _row(m, "__performance__", "roc_auc")
    exact = roc_auc_score(labels.label, log.score)
    assert auc.value == pytest.approx(exact, abs=0.002)
    assert (
        _row(m, "__performance__", "roc_auc_ci_low").value
        < exact
        < _row(m, "__performance__", "roc_auc_ci_high").value
    )
    est = _row(m, "__performance__", "estimated_roc_auc")
    assert est.status == "estimate" and est.value == pytest.approx(exact, abs=0.03)  # calibrated scores


def test_binned_auc_error_is_within_its_bound() -> None:
    rng = np.random.default_rng(5)
    y, s = rng.integers(0, 2, 3000), rng.uniform(size=3000)
    s = np.round(s, 2)  # heavy ties
    bins = np.minimum((s * 1000).astype(int), 999)
    value, bound = binned_auc(
        np.bincount(bins[y == 1], minlength=1000), np.bincount(bins[y == 0], minlength=1000)
    )
    assert abs(value - roc_auc_score(y, s)) <= bound + 1e-12


def test_wilson_interval_on_a_worked_example() -> None:
    est = wilson(80, 100)  # Wilson 95%: [0.7112, 0.8666]
    assert (round(est.low, 4), round(est.high, 4)) == (0.7112, 0.8666)


def test_benjamini_hochberg_on_a_worked_example() -> None:
    # p sorted 0.01, 0.02, 0.03, 0.5: scaled 0.04, 0.04, 0.04, 0.5.
    assert adjust_p_values([0.03, 0.01, 0.5, 0.02], "bh") == pytest.approx([0.04, 0.04, 0.5, 0.04])
    assert adjust_p_values([0.03, 0.5], "bonferroni") == pytest.approx([0.06, 1.0])


def test_a_column_without_a_test_stays_nan_and_is_not_counted_among_the_tests() -> None:
    nan = float("nan")
    bh = adjust_p_values([0.03, nan, 0.01, 0.5, 0.02], "bh")
    assert bh == pytest.approx([0.04, nan, 0.04, 0.5, 0.04], nan_ok=True)
    assert adjust_p_values([0.03, nan], "bonferroni") == pytest.approx([0.03, nan], nan_ok=True)


def _verdicts(*breaches: bool | None) -> list[WindowVerdict]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [WindowVerdict(start + timedelta(days=i), b, ("x",)) for i, b in enumerate(breaches)]


def test_retrains_only_after_k_consecutive_breaches() -> None:
    spec = MonitoringSpec(consecutive_windows=2)
    now = datetime(2026, 3, 10, tzinfo=UTC)
    assert not decide(_verdicts(True, False, True), spec, RetrainState(), now).retrain
    decision = decide(
        _verdicts(True, None, True), spec, RetrainState(), now
    )  # a gap neither counts nor resets
    assert (
        decision.retrain
        and decision.state.last_retrain_at == now
        and decision.state.consecutive_breaches == 0
    )


def test_no_retraining_inside_the_cooldown_and_no_double_counting() -> None:
    spec = MonitoringSpec(consecutive_windows=2, cooldown_days=7)
    now = datetime(2026, 3, 10, tzinfo=UTC)
    recent = RetrainState(last_retrain_at=now - timedelta(days=2))
    decision = decide(_verdicts(True, True), spec, recent, now)
    assert not decision.retrain and "cooldown" in decision.reason
    again = decide(_verdicts(True, True), spec, decision.state, now)  # same windows re-run: not counted twice
    assert again.state.consecutive_breaches == 2
