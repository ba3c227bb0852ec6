"""Point-in-time lookup: a row labelled at t never sees a feature value from after t.

Proves it on pandas (the local path, with the tables in deltalake) and on local Spark (the Databricks
path's code) over the same frames, with values observed before, at and after each label time. Does not
prove Databricks' own feature engineering client does the same (it is not used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_jobs.features import pit, store
from ml_jobs.features.job import training_frame
from mlops_spec.config.features import FeaturesSpec, FeatureTableSpec
from tests.ml_jobs.conftest import local_runtime, spec_for

T0 = pd.Timestamp("2025-03-01", tz="UTC")


def _labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "event_ts": [T0 + pd.Timedelta(hours=h) for h in (10, 30, 10, 10)],
            "churned": [0, 1, 1, 0],
        }
    )


def _features() -> pd.DataFrame:
    # a: observed at 0h, 10h (exactly the first label), 20h and 40h (after both labels' first); b: only
    # after its label; c: none.
    rows = [("a", 0, 1.0), ("a", 10, 2.0), ("a", 20, 3.0), ("a", 40, 99.0), ("b", 11, 99.0)]
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "event_ts": [T0 + pd.Timedelta(hours=r[1]) for r in rows],
            "tenure_months": [r[2] for r in rows],
        }
    )


EXPECTED = [2.0, 3.0, np.nan, np.nan]
"""a@10h: the value observed at 10h (not later); a@30h: 20h's; b: nothing observed yet; c: nothing."""


def _random(seed: int, n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"k{i}" for i in range(20)]
    labels = pd.DataFrame(
        {
            "customer_id": rng.choice(ids, n),
            "event_ts": T0 + pd.to_timedelta(rng.integers(0, 1000, n), unit="min"),
            "churned": rng.integers(0, 2, n),
        }
    ).drop_duplicates(["customer_id", "event_ts"])
    feats = pd.DataFrame(
        {
            "customer_id": rng.choice(ids, n),
            "event_ts": T0 + pd.to_timedelta(rng.integers(0, 1000, n), unit="min"),
        }
    ).drop_duplicates(["customer_id", "event_ts"])
    # The feature value *is* its observation time (minutes), so a leak shows as value > label time.
    feats["tenure_months"] = (feats["event_ts"] - T0).dt.total_seconds() / 60
    return labels.reset_index(drop=True), feats.reset_index(drop=True)


def _lookup(labels: pd.DataFrame, feats: pd.DataFrame) -> pd.DataFrame:
    return pit.lookup(labels, feats, ["customer_id"], "event_ts", "event_ts", ["tenure_months"])


def test_pandas_lookup_takes_the_newest_value_at_or_before_the_label_time() -> None:
    out = _lookup(_labels(), _features())
    assert out["tenure_months"].tolist() == pytest.approx(EXPECTED, nan_ok=True)
    assert out[["customer_id", "churned"]].equals(_labels()[["customer_id", "churned"]])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pandas_lookup_never_leaks_a_later_value(seed: int) -> None:
    labels, feats = _random(seed)
    out = _lookup(labels, feats)
    label_minutes = (out["event_ts"] - T0).dt.total_seconds() / 60
    seen = out["tenure_months"].dropna()
    assert (seen <= label_minutes[seen.index]).all()
    # ...and it is the newest one at or before t (brute force over every candidate).
    for i, row in out.iterrows():
        mine = feats[(feats.customer_id == row.customer_id) & (feats.event_ts <= row.event_ts)]
        expected = mine["tenure_months"].max() if len(mine) else np.nan
        assert row["tenure_months"] == pytest.approx(expected, nan_ok=True), i


def test_spark_lookup_gives_the_pandas_answer(spark) -> None:
    labels, feats = _random(4)
    for left, right in ((_labels(), _features()), (labels, feats)):
        got = pit.lookup_spark(
            spark.createDataFrame(left),
            spark.createDataFrame(right),
            ["customer_id"],
            "event_ts",
            "event_ts",
            ["tenure_months"],
        ).toPandas()
        want = _lookup(left, right)
        got = got.sort_values(["customer_id", "event_ts"]).reset_index(drop=True)
        want = want.sort_values(["customer_id", "event_ts"]).reset_index(drop=True)
        assert got["tenure_months"].tolist() == pytest.approx(want["tenure_months"].tolist(), nan_ok=True)
        label_minutes = (pd.to_datetime(got["event_ts"], utc=True) - T0).dt.total_seconds() / 60
        seen = got["tenure_months"].dropna()
        assert (seen <= label_minutes[seen.index]).all()


def test_the_training_frame_from_delta_tables_never_sees_a_later_value(tmp_path: Path) -> None:
    """The same through the tables: label table and feature table in deltalake, via training_frame."""
    runtime = local_runtime(tmp_path)
    base = spec_for("dev").model
    table = FeatureTableSpec(
        name="pit_features",
        source="pit_source",
        primary_key=("customer_id",),
        numeric_features=("tenure_months",),
    )
    data = base.data.model_copy(
        update={
            "numeric_features": ("tenure_months",),
            "categorical_features": (),
            "sensitive_attribute": None,
            "segment_column": None,
        }
    )
    model = base.model_copy(
        update={"data": data, "features": FeaturesSpec(labels="pit_labels", tables=(table,))}
    )
    store.ensure_table(runtime, store.feature_layout(table))
    store.merge(runtime, store.feature_layout(table), _features())
    from ml_jobs.features.job import write_labels

    write_labels(runtime, model, _labels())
    frame, versions = training_frame(runtime, model, [model])
    frame = frame.sort_values(["customer_id", "event_ts"]).reset_index(drop=True)
    assert frame["tenure_months"].tolist() == pytest.approx(EXPECTED, nan_ok=True)
    assert set(versions) == {"pit_labels", "pit_features"}
