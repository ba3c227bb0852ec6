"""The Databricks table path on local Spark: missing tables, schema changes, ANSI-safe casts.

What it proves: the Spark calls the jobs make on Databricks behave as on a cluster for these
cases (same pyspark API, same error classes, ``spark.sql.ansi.enabled=true`` as on Spark 4
runtimes). What it does not prove: Unity Catalog's own catalog (the local session catalog stands
for it) or Delta (tables here are the session's parquet tables).
"""

from __future__ import annotations

import pytest

from ml_jobs.runtime import Runtime, TableMissing

pytestmark = pytest.mark.spark


@pytest.fixture
def databricks_runtime(spark) -> Runtime:
    """A runtime that takes the Databricks branch, on the shared local session."""
    return Runtime(env="dev", catalog="spark_catalog", on_databricks=True, tracking_uri="", registry_uri="",
                   _spark=[spark])


def test_the_first_monitor_run_finds_no_state_table_instead_of_crashing(databricks_runtime):
    """Spark raises AnalysisException(TABLE_OR_VIEW_NOT_FOUND); only the local path turned it into None."""
    from ml_jobs.monitoring.alerting import RetrainState
    from ml_jobs.monitoring.job import _read_optional, load_state

    assert load_state(databricks_runtime, "no_such_model") == RetrainState()
    assert _read_optional(databricks_runtime, "inference_logs", "no_such_labels") is None


def test_fails_on_other_analysis_errors_rather_than_calling_the_table_missing(databricks_runtime):
    from pyspark.errors import AnalysisException

    from ml_jobs.monitoring.job import _read_optional

    with pytest.raises(AnalysisException) as caught:  # a bad name is not a missing table
        _read_optional(databricks_runtime, "mon_t", "`unclosed")
    assert not isinstance(caught.value, TableMissing)


@pytest.fixture
def ansi(spark):
    """ANSI mode on, as on Spark 4 runtimes (restored afterwards for the shared session)."""
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", "true")
    yield spark
    spark.conf.set("spark.sql.ansi.enabled", before)


def test_a_decision_record_with_all_null_fields_gets_a_spark_schema(spark):
    """``createDataFrame`` cannot type an all-null column; the record's own arrow schema types it."""
    import pandas as pd
    import pyarrow as pa

    from ml_jobs.runtime import spark_frame

    record = pd.DataFrame({"decision": ["retrain"], "reason": [None], "score": [None]})
    frame = spark_frame(spark, record, pa.schema([("score", pa.float64())]))
    assert dict(frame.dtypes) == {"decision": "string", "reason": "string", "score": "double"}
    assert frame.collect()[0].asDict() == {"decision": "retrain", "reason": None, "score": None}


def test_an_overwrite_may_change_the_tables_schema():
    """What is sent: ``overwriteSchema`` on overwrite only (Delta itself is not on local Spark, so
    the refusal of a schema change without it is not reproduced here)."""
    from ml_jobs.runtime import save_delta

    calls: list[tuple] = []

    class Writer:
        def format(self, f):
            calls.append(("format", f))
            return self

        def mode(self, m):
            calls.append(("mode", m))
            return self

        def option(self, k, v):
            calls.append(("option", k, v))
            return self

        def saveAsTable(self, ref):
            calls.append(("saveAsTable", ref))

    class Frame:
        write = Writer()

    save_delta(Frame(), "c.s.t", "overwrite")
    assert ("option", "overwriteSchema", "true") in calls
    calls.clear()
    save_delta(Frame(), "c.s.t", "append")
    assert not any(c[0] == "option" for c in calls)


def test_unparsable_labels_and_scores_are_null_under_ansi_mode(ansi):
    """``cast("double")`` raises CAST_INVALID_INPUT under ANSI; the monitor reads such rows as null."""
    import pandas as pd

    from ml_jobs.monitoring import engine_spark

    log = ansi.createDataFrame(pd.DataFrame({"request_id": ["a", "b"], "x": ["1.5", "n/a"]}))
    labels = ansi.createDataFrame(pd.DataFrame({"request_id": ["a", "b"], "label": ["1", "unknown"]}))
    joined = engine_spark.join_labels(log, labels).orderBy("request_id").collect()
    assert [r["label"] for r in joined] == [1.0, None]
    _, parsed = engine_spark._numeric_source(log, "x")
    assert parsed is None  # a string column with a value that does not parse is not numeric
