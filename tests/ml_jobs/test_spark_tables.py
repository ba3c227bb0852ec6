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
