"""ServingEndpoint: created without served entities (config belongs to the deploy job), inference tables
and rate limits by Terraform; everything on adds protection and an ACL; bad names and limits rejected.
Proves the synthesized endpoint, not that Databricks serves it."""

from __future__ import annotations

import dataclasses

import pytest

from infra.constructs.serving import ServingEndpoint, ServingEndpointProps
from tests.cdk_constructs.conftest import of_type, only, synth

PROPS = ServingEndpointProps(
    name="mlops-dev-churn",
    model_full_name="mlops_dev.models.churn",
    inference_catalog="${databricks_schema.logs.catalog_name}",
    inference_schema="${databricks_schema.logs.name}",
    table_prefix="churn",
    rate_limit_per_minute=600,
    tags={"env": "dev", "team": "mlops"},
)


def test_defaults_no_config_inference_tables_by_reference_a_rate_limit_and_no_acl() -> None:
    doc = synth(lambda s: ServingEndpoint(s, "ep", PROPS))
    endpoint = only(doc, "databricks_model_serving")
    assert "config" not in endpoint and endpoint["lifecycle"] == {"ignore_changes": ["config"]}
    gateway = endpoint["ai_gateway"]
    assert gateway["inference_table_config"] == {
        "enabled": True,
        "catalog_name": "${databricks_schema.logs.catalog_name}",
        "schema_name": "${databricks_schema.logs.name}",
        "table_name_prefix": "churn",
    }
    assert gateway["rate_limits"] == [{"calls": 600, "key": "endpoint", "renewal_period": "minute"}]
    assert endpoint["tags"] == [{"key": "env", "value": "dev"}, {"key": "team", "value": "mlops"}]
    assert not of_type(doc, "databricks_permissions")


def test_everything_protection_and_who_may_query_or_manage() -> None:
    access = {"analysts": ("group", "CAN_QUERY"), "sp-deployer": ("service_principal", "CAN_MANAGE")}
    props = dataclasses.replace(PROPS, prevent_destroy=True, access=access)
    doc = synth(lambda s: ServingEndpoint(s, "ep", props))
    (name,) = of_type(doc, "databricks_model_serving")
    assert only(doc, "databricks_model_serving")["lifecycle"] == {
        "ignore_changes": ["config"],
        "prevent_destroy": True,
    }
    acl = only(doc, "databricks_permissions")
    assert acl["serving_endpoint_id"] == f"${{databricks_model_serving.{name}.serving_endpoint_id}}"
    assert acl["access_control"] == [
        {"group_name": "analysts", "permission_level": "CAN_QUERY"},
        {"service_principal_name": "sp-deployer", "permission_level": "CAN_MANAGE"},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"name": "mlops.dev.churn"},
            r"serving endpoint name: got 'mlops.dev.churn'; allowed: letters, digits",
        ),
        ({"name": ""}, r"serving endpoint name: got ''"),
        ({"rate_limit_per_minute": 0}, r"rate_limit_per_minute: got 0; allowed: >= 1"),
    ],
)
def test_fails_on_a_name_or_limit_databricks_rejects(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PROPS, **change)
