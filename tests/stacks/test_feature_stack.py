"""Feature tables in the real stacks: what each environment's synthesized JSON holds.

Read from the session's one synth (``synth_dir``); nothing runs Terraform. Proves: the table in the
features schema with NOT NULL keys and clustering, owned by the identity its job runs as, grants from the
role matrix on the table by reference, one feature job per schedule running the wheel's ``features`` entry
point, and the training job building its training set first. Not proven: Databricks' behaviour (the
PRIMARY KEY TIMESERIES constraint is added by the job at run time, see ml_jobs/features/store.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_spec.config import ENV_NAMES
from tests.stacks.test_environment_stacks import load, resources


@pytest.fixture(scope="module")
def stacks(synth_dir: Path) -> dict[str, dict]:
    return {env: load(synth_dir, env) for env in ENV_NAMES}


def feature_tables(doc: dict) -> dict[str, dict]:
    """The tables in the features schema (the labels tables of the models are in inference_logs)."""
    return {n: t for n, t in resources(doc, "databricks_sql_table").items() if "features" in t["schema_name"]}


@pytest.mark.parametrize("env", ENV_NAMES)
def test_the_feature_table_is_a_managed_delta_table_with_not_null_keys(stacks: dict, env: str) -> None:
    (table,) = feature_tables(stacks[env]).values()
    assert table["name"] == "customer_features" and table["table_type"] == "MANAGED"
    assert table["data_source_format"] == "DELTA"
    assert table["schema_name"].startswith("${databricks_schema.") and "features" in table["schema_name"]
    columns = {c["name"]: c for c in table["column"]}
    assert columns["customer_id"]["nullable"] is False and columns["event_ts"]["nullable"] is False
    assert columns["event_ts"]["type"] == "TIMESTAMP" and columns["age"]["type"] == "DOUBLE"
    assert columns["contract_type"]["nullable"] is True
    assert table["cluster_keys"] == ["customer_id", "event_ts"]
    assert table["owner"].startswith("${")  # the job runner (or, in dev, the deployer), by reference
    assert table["warehouse_id"].startswith("${databricks_sql_endpoint.")


@pytest.mark.parametrize("env", ENV_NAMES)
def test_table_grants_come_from_the_role_matrix_by_reference(stacks: dict, env: str) -> None:
    features = feature_tables(stacks[env])
    grants = [
        g
        for g in resources(stacks[env], "databricks_grants").values()
        if "table" in g and g["table"].split(".")[1] in features
    ]
    (grant,) = grants
    assert grant["table"].startswith("${databricks_sql_table.") and grant["table"].endswith(".id}")
    privileges = {p for g in grant["grant"] for p in g["privileges"]}
    assert "SELECT" in privileges and privileges <= {
        "SELECT",
        "MODIFY",
        "APPLY_TAG",
        "MANAGE",
        "ALL_PRIVILEGES",
    }


@pytest.mark.parametrize("env", ENV_NAMES)
def test_one_feature_job_per_schedule_and_the_training_set_before_training(stacks: dict, env: str) -> None:
    jobs = {j["name"]: j for j in resources(stacks[env], "databricks_job").values()}
    job = jobs[f"[{env}] features: 0 0 1 * * ? UTC"]
    (task,) = job["task"]
    assert task["python_wheel_task"]["entry_point"] == "features"
    assert task["python_wheel_task"]["named_parameters"] == {"env": env, "tables": "customer_features"}
    assert job["schedule"]["quartz_cron_expression"] == "0 0 1 * * ?" and job["max_concurrent_runs"] == 1
    assert job["health"]["rules"][0]["metric"] == "RUN_DURATION_SECONDS"
    train = jobs[f"[{env}] marketing_churn_gbm: train"]
    keys = [t["task_key"] for t in train["task"]]
    assert keys[:2] == ["training-set", "train"]
    assert train["task"][1]["depends_on"] == [{"task_key": "training-set"}]
    fraud = jobs[f"[{env}] risk_fraud_xgb: train"]
    assert fraud["task"][0]["task_key"] == "train"  # no feature tables: trains on data.table directly
