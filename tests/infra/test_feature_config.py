"""Feature tables in stacks/models.yaml: the shipped ones load, and each mistake names the file, the key
path, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_spec.config import load_platform
from mlops_spec.config.features import feature_tables, tables_of
from tests.infra.test_config import config_copy as config_copy
from tests.infra.test_config import edit, error_for


def _table(data: dict) -> dict:
    return data["models"][0]["features"]["tables"][0]


def test_shipped_feature_tables_load() -> None:
    platform = load_platform("prod")
    churn = platform.model("marketing_churn_gbm")
    (table,) = tables_of(churn, platform.models)
    assert table.keys == ("customer_id", "event_ts") and table.clustering() == table.keys
    assert set(churn.data.features) == set(table.features)
    assert list(feature_tables(platform.models)) == ["customer_features"]


def test_a_model_may_reuse_another_models_table(config_copy: tuple[Path, Path]) -> None:
    stacks, policies = config_copy

    def reuse(data: dict) -> None:
        fraud = data["models"][1]
        fraud["data"]["id_column"] = "customer_id"
        fraud["data"]["numeric_features"] = ["tenure_months"]
        fraud["data"]["categorical_features"] = []
        fraud["features"] = {"labels": "fraud_labels", "reuse": ["customer_features"]}

    edit(stacks / "models.yaml", reuse)
    platform = load_platform("dev", stacks, policies)
    fraud = platform.model("risk_fraud_xgb")
    assert [t.name for t in tables_of(fraud, platform.models)] == ["customer_features"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: _table(d).update(schedule="0 1 * * *"),
            "models[0].features.tables[0].schedule: invalid cron: looks like a 5-field Unix cron",
        ),
        (
            lambda d: _table(d).update(max_age_hours=2),
            "models[0].features.tables[0].max_age_hours: shorter than the schedule's interval (24 h)",
        ),
        (
            lambda d: _table(d).update(cluster_by=["nope"]),
            "models[0].features.tables[0].cluster_by[0]: not a column of the table; got 'nope'; allowed: ",
        ),
        (
            lambda d: _table(d).update(function="sql"),
            "models[0].features.tables[0].function: Input should be 'project'",
        ),
        (
            lambda d: _table(d).update(primary_key=["account_id"]),
            "models[0].features.tables: feature table customer_features: its primary key must be the model's "
            "data.id_column; got ['account_id']; allowed: [customer_id]",
        ),
        (
            lambda d: _table(d)["numeric_features"].remove("age"),
            "models[0].features: a feature of data.* is in none of the model's feature tables; got 'age'",
        ),
        (
            lambda d: d["models"][0]["features"].update(reuse=["missing_table"]),
            "models[0].features.reuse[0]: unknown feature table; got 'missing_table'; allowed: none declared",
        ),
        (
            lambda d: d["models"][0]["features"].update(labels="churn_training"),
            "models[0].features.labels: the label table cannot be the training table (data.table)",
        ),
        (lambda d: _table(d).update(colour="red"), "models[0].features.tables[0].colour: unknown key"),
    ],
)
def test_fails_on_a_bad_feature_table(config_copy: tuple[Path, Path], change, expected: str) -> None:
    stacks, policies = config_copy
    edit(stacks / "models.yaml", change)
    message = error_for("dev", stacks, policies)
    assert "models.yaml: " + expected in message
