"""The labels table the stacks create (``databricks_sql_table``) and the tables the maintain task keeps.

What this proves, on the real synthesized JSON weakened one way per test: creating the labels table
needs CREATE_TABLE on its schema and, with no warehouse (the shipped stacks use the fleet's), a
workspace admin to start the provider's cluster (SIM024); the endpoint's inference table belongs to
the endpoint's creator, and the job runner keeps the retention of the predictions, labels and payload
tables only with MODIFY and SELECT on them (SIM060); the shipped stacks need none of this weakened.
What it does not prove: that Databricks enforces exactly these rules (RULES.md cites where each comes
from); the VACUUM page names no privilege, so nothing more is checked for it.
"""

from __future__ import annotations

from typing import Any

from infra.simulate import simulate
from tests.simulate.conftest import Docs, one, resources


def failures(docs: Docs) -> list[Any]:
    return simulate(docs).failures


def matching(docs: Docs, rule: str, stack: str, where: str, missing: str) -> list[Any]:
    found = failures(docs)
    hits = [
        f for f in found if f.rule == rule and f.stack == stack and where in f.where and missing in f.missing
    ]
    assert hits, "expected {} {} at {!r} ({!r}); got:\n{}".format(
        rule, stack, where, missing, "\n".join(map(str, found)) or "no failures"
    )
    return hits


def test_every_environment_creates_one_labels_table_per_model_and_the_simulator_models_it(
    shipped_docs: Docs,
) -> None:
    result = simulate(shipped_docs)
    assert result.failures == [] and not result.notes, result.notes
    for env in ("dev", "staging", "prod"):
        tables = {b["name"] for _, b in resources(shipped_docs[env], "databricks_sql_table")}
        tables = {t for t in tables if t.endswith("_labels")}  # beside them: the feature tables
        assert tables == {"marketing_churn_gbm_labels", "risk_fraud_xgb_labels"}


def test_fails_a_labels_table_in_a_schema_the_deployer_may_not_create_tables_in(docs: Docs) -> None:
    _name, schema = one(docs["staging"], "databricks_schema", "inference_logs")
    schema["owner"] = "analysts"
    table, _ = one(docs["staging"], "databricks_sql_table", "marketing_churn_gbm")
    matching(
        docs, "SIM024", "staging", f"databricks_sql_table.{table}", "on schema mlops_staging.inference_logs"
    )


def test_fails_a_labels_table_without_warehouse_when_the_deployer_is_no_workspace_admin(docs: Docs) -> None:
    _name, assignment = one(
        docs["account"], "databricks_mws_permission_assignment", "assign-staging-sp-deployer"
    )
    assignment["permissions"] = ["USER"]
    table, body = one(docs["staging"], "databricks_sql_table", "risk_fraud_xgb")
    assert body["warehouse_id"].startswith("${databricks_sql_endpoint.")  # the fleet's warehouse runs it
    assert not [f for f in failures(docs) if f.rule == "SIM024" and table in f.where]
    del body["warehouse_id"]  # no warehouse (the fleet off): the provider starts its own cluster
    matching(docs, "SIM024", "staging", f"databricks_sql_table.{table}", "not a workspace admin")


def test_fails_a_job_runner_that_may_not_modify_the_labels_table(docs: Docs) -> None:
    for _, grants in resources(docs["prod"], "databricks_grants", lambda n, b: "catalog_grants" in n):
        for entry in grants["grant"]:
            entry["privileges"] = [p for p in entry["privileges"] if p != "MODIFY"]
    _, table = one(docs["prod"], "databricks_sql_table", "marketing_churn_gbm")
    table["owner"] = "mlops-engineers"
    matching(
        docs,
        "SIM060",
        "prod",
        "marketing_churn_gbm: monitor' task maintain",
        "MODIFY on mlops_prod.inference_logs.marketing_churn_gbm_labels",
    )


def test_fails_a_job_runner_that_may_not_modify_the_endpoints_inference_table(docs: Docs) -> None:
    for _, grants in resources(docs["staging"], "databricks_grants", lambda n, b: "catalog_grants" in n):
        for entry in grants["grant"]:
            entry["privileges"] = [p for p in entry["privileges"] if p != "MODIFY"]
    hits = matching(
        docs,
        "SIM060",
        "staging",
        "marketing_churn_gbm: monitor' task maintain",
        "MODIFY on mlops_staging.inference_logs.marketing_churn_gbm_payload",
    )
    # The predictions table is the runner's own (the unpack task created it): kept without a grant.
    assert not [h for h in hits if "predictions" in h.missing]


def test_the_labels_writer_gets_write_on_the_table_and_use_on_its_path(shipped_docs: Docs) -> None:
    doc = shipped_docs["staging"]
    table, _ = one(doc, "databricks_sql_table", "marketing_churn_gbm")
    _, grants = one(doc, "databricks_grants", "labels-marketing_churn_gbm_grants")
    assert grants["table"] == f"${{databricks_sql_table.{table}.id}}"
    ((entry,),) = [grants["grant"]]
    writer = entry["principal"]
    assert "ml_engineers" in writer and entry["privileges"] == ["MODIFY", "SELECT"]
    catalog = next(b for _, b in resources(doc, "databricks_grants") if "catalog" in b)
    schema = next(b for n, b in resources(doc, "databricks_grants") if "grants-inference_logs" in n)
    assert "USE_CATALOG" in {p for g in catalog["grant"] if g["principal"] == writer for p in g["privileges"]}
    assert "USE_SCHEMA" in {p for g in schema["grant"] if g["principal"] == writer for p in g["privileges"]}
