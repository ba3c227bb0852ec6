"""LabelsTable: the contract's columns as a managed Delta table, its owner, its writer; rejected input."""

from __future__ import annotations

import pytest

from infra.constructs.labels import LabelsTable, LabelsTableProps
from mlops_spec.config import load_models
from mlops_spec.tables import contract_columns, retention_properties
from tests.cdk_constructs.conftest import only, synth

OWNERS = "${data.databricks_group.model_owners.display_name}"
MODEL = load_models("dev")[0]


def props(**kwargs: object) -> LabelsTableProps:
    base = {
        "catalog": "mlops_dev",
        "schema": "inference_logs",
        "name": f"{MODEL.name}_labels",
        "columns": tuple(contract_columns(MODEL.data)),
        "owner": OWNERS,
        "writer": "churn-label-pipeline",
    }
    return LabelsTableProps(**(base | kwargs))  # type: ignore[arg-type]


def test_defaults_a_managed_delta_table_with_the_contract_owned_by_the_model_owners() -> None:
    doc = synth(lambda s: LabelsTable(s, "labels", props()))
    table = only(doc, "databricks_sql_table")
    assert table["table_type"] == "MANAGED" and table["data_source_format"] == "DELTA"
    assert [(c["name"], c["type"]) for c in table["column"]] == [
        (MODEL.data.id_column, "string"),
        (MODEL.data.label, "bigint"),
        ("label_timestamp", "timestamp"),
    ]
    assert table["owner"] == OWNERS
    assert not {"warehouse_id", "lifecycle", "properties"} & set(table)
    grants = only(doc, "databricks_grants")
    assert grants["grant"] == [{"principal": "churn-label-pipeline", "privileges": ["MODIFY", "SELECT"]}]
    assert grants["table"].startswith("${databricks_sql_table.") and grants["table"].endswith(".id}")


def test_everything_retention_properties_a_warehouse_a_reader_and_destroy_protection() -> None:
    def build(scope: object) -> None:
        table = LabelsTable(
            scope,  # type: ignore[arg-type]
            "labels",
            props(
                properties=tuple(retention_properties(30).items()),
                warehouse_id="abc123",
                prevent_destroy=True,
                comment="labels of the churn model",
            ),
        )
        table.grant_read("analysts", "analysts")

    doc = synth(build)
    table = only(doc, "databricks_sql_table")
    assert table["properties"] == retention_properties(30)
    assert table["warehouse_id"] == "abc123" and table["lifecycle"] == {"prevent_destroy": True}
    grants = {g["principal"]: g["privileges"] for g in only(doc, "databricks_grants")["grant"]}
    assert grants == {"churn-label-pipeline": ["MODIFY", "SELECT"], "analysts": ["SELECT"]}


def test_fails_without_columns() -> None:
    with pytest.raises(ValueError, match="columns must not be empty"):
        synth(lambda s: LabelsTable(s, "labels", props(columns=())))
