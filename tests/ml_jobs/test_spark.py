"""The Databricks path on the real engine: Spark reads the table, training takes the Spark DataFrame."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_jobs.data.generate import generate_churn
from ml_jobs.errors import BadInput
from ml_jobs.registry import client as reg
from ml_jobs.registry.client import connect
from ml_jobs.runtime import Runtime, read_spark_table, to_pandas
from ml_jobs.training.pipeline import split
from ml_jobs.training.train import train_model

from .conftest import local_runtime, spec_for

pytestmark = pytest.mark.spark


def test_trains_from_a_spark_dataframe_with_lineage(spark, tmp_path: Path) -> None:
    spec, runtime = spec_for("dev"), local_runtime(tmp_path)
    frame = generate_churn(1200, seed=11)
    spark.createDataFrame(frame).createOrReplaceTempView("churn_training_v0")
    sdf = read_spark_table(spark, "churn_training_v0")
    assert sdf.count() == len(frame)

    client = connect(runtime)
    result = train_model(
        spec,
        runtime,
        client,
        data=sdf,
        data_version=0,
        data_table="mlops_dev.features.churn_training",
        fixed_params={"max_iter": 30, "max_leaf_nodes": 8},
    )

    # Spark returns rows in its own order; the id-hash split makes the held-out rows the same anyway.
    train, test = split(frame, spec.model.data, spec.model.training.test_size, spec.model.training.seed)
    run = client.get_run(result.run_id)
    assert run.data.params["n_rows_train"] == str(len(train))
    assert run.data.params["n_rows_test"] == str(len(test))
    tags = client.get_model_version(result.registered_name, result.version).tags
    assert (tags[reg.TAG_DATA_TABLE], tags[reg.TAG_DATA_VERSION]) == (
        "mlops_dev.features.churn_training",
        "0",
    )
    assert result.metrics["roc_auc"] > 0.7


def test_spark_and_pandas_frames_give_the_same_split(spark) -> None:
    spec = spec_for("dev").model
    frame = generate_churn(500, seed=12)
    shuffled = spark.createDataFrame(frame.sample(frac=1.0, random_state=1)).repartition(3)
    _, test_spark = split(to_pandas(shuffled), spec.data, spec.training.test_size, spec.training.seed)
    _, test_pandas = split(frame, spec.data, spec.training.test_size, spec.training.seed)
    assert test_spark["customer_id"].tolist() == test_pandas["customer_id"].tolist()


def test_fails_training_from_a_frame_without_lineage(spark, tmp_path: Path) -> None:
    spec, runtime = spec_for("dev"), local_runtime(tmp_path)
    sdf = spark.createDataFrame(generate_churn(50, seed=1))
    with pytest.raises(ValueError, match="lineage would be unknown"):
        train_model(spec, runtime, client=None, data=sdf)  # type: ignore[arg-type]


def _databricks_like(spark) -> Runtime:
    """The Databricks code path on local Spark: the session catalog plays Unity Catalog's part."""
    return Runtime("dev", "spark_catalog", True, "databricks", "databricks-uc", None, [spark])


def test_fails_with_bad_input_on_a_missing_table_through_spark(spark) -> None:
    with pytest.raises(
        BadInput, match=r"cannot read spark_catalog.features.no_such_table at version 0: .*NOT_FOUND"
    ):
        _databricks_like(spark).read_table("features", "no_such_table", version=0)


def test_time_travel_request_reaches_spark(spark) -> None:
    """Local Spark has no Delta: it must refuse ``versionAsOf`` on a plain table, which shows that the
    version is passed to the engine (on Databricks the same call reads that Delta version)."""
    spark.sql("CREATE DATABASE IF NOT EXISTS features")
    try:
        spark.createDataFrame(generate_churn(20, seed=1)).write.mode("overwrite").format(
            "parquet"
        ).saveAsTable("spark_catalog.features.churn_plain")
        with pytest.raises(BadInput, match=r"at version 3: .*TIME_TRAVEL"):
            _databricks_like(spark).read_table("features", "churn_plain", version=3)
    finally:
        spark.sql("DROP TABLE IF EXISTS spark_catalog.features.churn_plain")
