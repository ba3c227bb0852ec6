"""The Spark engine produces the numpy engine's counts, hence the same metrics (pyspark local mode)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_jobs.monitoring import engine_numpy, synthetic
from ml_jobs.monitoring import profile as profile_module
from ml_jobs.monitoring.counts import CategoricalCounts, NumericCounts
from ml_jobs.monitoring.run import run_monitoring
from mlops_spec.config.monitoring import MonitoringSpec

pytestmark = pytest.mark.spark

NUMERIC = ["num_00", "num_01", "num_02", "num_03"]
CATEGORICAL = ["cat_0", "cat_1"]


def _log() -> pd.DataFrame:
    first = synthetic.inference_log(3_000, start="2026-03-01", days=2, seed=1)
    second = synthetic.inference_log(
        1_500, start="2026-03-03", days=1, seed=2, drifted=frozenset({"num_01", "cat_1"})
    )
    log = pd.concat([first, second], ignore_index=True)
    log.loc[5, "num_02"] = np.nan  # a null, an infinity and an unseen category on purpose
    log.loc[6, "num_02"] = np.inf
    log.loc[7, "cat_0"] = "never-seen"
    log.loc[8, "cat_0"] = None
    return log


def _spark_frame(spark, frame: pd.DataFrame):
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == "str":
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return spark.createDataFrame(out)


def test_spark_counts_equal_numpy_counts_on_the_same_profile(spark) -> None:
    from ml_jobs.monitoring import engine_spark

    log = _log()
    reference = synthetic.features(4_000, n_numeric=4, n_categorical=2, seed=9)
    profile = profile_module.build_profile(reference, NUMERIC, CATEGORICAL, fine_bins=200)
    expected = engine_numpy.count_windows(log, profile, "1 day")
    actual = engine_spark.count_windows(_spark_frame(spark, log), profile, "1 day")
    assert [w.start for w in actual] == [w.start for w in expected]
    for a, e in zip(actual, expected, strict=True):
        assert a.n_rows == e.n_rows
        for column in profile.columns:
            ac, ec = a.columns[column], e.columns[column]
            assert np.array_equal(ac.counts, ec.counts), column
            assert (ac.n_null, ac.n_rows) == (ec.n_null, ec.n_rows), column
            if isinstance(ec, NumericCounts):
                assert ac.n_inf == ec.n_inf
                np.testing.assert_allclose(ac.offsets, ec.offsets, rtol=1e-9, atol=1e-9)
            else:
                assert isinstance(ac, CategoricalCounts) and ac.unseen == ec.unseen


def test_spark_profile_equals_numpy_profile_on_small_data(spark) -> None:
    from ml_jobs.monitoring import engine_spark

    reference = synthetic.features(3_000, n_numeric=4, n_categorical=2, seed=9)
    expected = profile_module.build_profile(reference, NUMERIC, CATEGORICAL, fine_bins=200)
    actual = engine_spark.build_profile(_spark_frame(spark, reference), NUMERIC, CATEGORICAL, fine_bins=200)
    for column in NUMERIC:
        a, e = actual.numeric[column], expected.numeric[column]
        assert a.edges == e.edges and a.coarse_edges == e.coarse_edges and a.counts == e.counts
        np.testing.assert_allclose(a.offsets, e.offsets, rtol=1e-9, atol=1e-9)
        assert a.mean == pytest.approx(e.mean) and a.std == pytest.approx(e.std)
    assert actual.categorical == expected.categorical


def test_run_monitoring_gives_the_same_metrics_on_both_engines(spark) -> None:
    log = _log()
    labels = synthetic.labels_for(log)
    reference = synthetic.features(4_000, n_numeric=4, n_categorical=2, seed=9)
    spec = MonitoringSpec(min_samples=200)
    kwargs = {"numeric_features": NUMERIC, "categorical_features": CATEGORICAL}
    profile = profile_module.build_profile(reference, NUMERIC, CATEGORICAL, fine_bins=200)
    expected = run_monitoring(profile, log, labels, spec, engine="numpy", **kwargs).metrics
    actual = run_monitoring(
        profile, _spark_frame(spark, log), _spark_frame(spark, labels), spec, engine="spark", **kwargs
    ).metrics
    keys = ["window_start", "drift_type", "column", "metric"]
    merged = expected.merge(actual, on=keys, suffixes=("_np", "_sp"), validate="one_to_one")
    assert len(merged) == len(expected) == len(actual)
    np.testing.assert_allclose(merged["value_sp"], merged["value_np"], rtol=1e-9, atol=1e-12)
    assert (merged["drifted_sp"] == merged["drifted_np"]).all()
    assert (
        merged.loc[merged["drifted_np"], "column"]
        .isin({"num_01", "cat_1", "__dataset__", "__prediction__", "cat_0"})
        .all()
    )


def test_both_engines_keep_the_rows_of_the_served_version(spark) -> None:
    from ml_jobs.monitoring import engine_spark

    log = _log()
    log["model_version"] = np.where(np.arange(len(log)) % 3 == 0, "2", "1")
    log.loc[3, "model_version"] = None  # a row with no version was served by none
    expected = engine_numpy.served_by(log, "2")
    actual = engine_spark.served_by(_spark_frame(spark, log), "2").toPandas()
    assert sorted(actual["request_id"]) == sorted(expected["request_id"])
    assert len(expected) == (np.arange(len(log)) % 3 == 0).sum() - 1
