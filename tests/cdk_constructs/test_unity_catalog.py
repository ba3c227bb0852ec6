"""PlatformCatalog: defaults, everything enabled, an existing catalog, and rejected input."""

from __future__ import annotations

import re

import pytest

from infra.constructs.unity_catalog import CatalogProps, PlatformCatalog
from tests.cdk_constructs.conftest import of_type, only, synth

REF = re.compile(r"^\$\{(?P<type>[a-z_]+)\.(?P<name>[^.}]+)\.(?P<attr>[a-z_]+)\}$")
OWNER = "${data.databricks_service_principal.deployer.application_id}"


def test_defaults_an_isolated_catalog_owned_by_the_deployer_with_schemas_that_reference_it() -> None:
    doc = synth(
        lambda s: PlatformCatalog(s, "catalog", CatalogProps("mlops_dev", OWNER, ("features", "models")))
    )
    catalog = only(doc, "databricks_catalog")
    assert catalog["owner"] == OWNER and catalog["isolation_mode"] == "ISOLATED"
    assert "storage_root" not in catalog and not of_type(doc, "databricks_external_location")
    for schema in of_type(doc, "databricks_schema").values():
        assert REF.match(schema["catalog_name"])["type"] == "databricks_catalog"
        assert schema["owner"] == OWNER and "lifecycle" not in schema
    assert not of_type(doc, "databricks_grants")  # nothing granted, nothing rendered


def test_everything_managed_storage_volumes_grants_and_destroy_protection() -> None:
    def build(scope: object) -> None:
        catalog = PlatformCatalog(
            scope,  # type: ignore[arg-type]
            "catalog",
            CatalogProps(
                "mlops_prod",
                OWNER,
                ("models", "monitoring"),
                storage_root="s3://bucket/uc",
                storage_credential="mlops-prod-catalog",
                location_name="mlops-prod-catalog",
                volumes={"models": ("artifacts",)},
                prevent_destroy=True,
            ),
        )
        catalog.grant("analysts", ["USE_CATALOG"], "analysts")
        catalog.grant("analysts", ["USE_SCHEMA", "SELECT"], "analysts", schema="monitoring")

    doc = synth(build)
    location = only(doc, "databricks_external_location")
    assert location == {
        **location,
        "url": "s3://bucket/uc",
        "credential_name": "mlops-prod-catalog",
        "owner": OWNER,
    }
    catalog = only(doc, "databricks_catalog")
    assert REF.match(catalog["storage_root"])["type"] == "databricks_external_location"  # ordered after it
    assert catalog["lifecycle"] == {"prevent_destroy": True}
    volume = only(doc, "databricks_volume")
    assert REF.match(volume["schema_name"])["type"] == "databricks_schema"
    assert REF.match(volume["catalog_name"])["type"] == "databricks_schema"
    grants = {k: v for k, v in of_type(doc, "databricks_grants").items()}
    assert len(grants) == 2
    assert any(
        g.get("catalog") and g["grant"] == [{"principal": "analysts", "privileges": ["USE_CATALOG"]}]
        for g in grants.values()
    )


def test_an_existing_catalog_gets_additive_grants_keyed_by_role() -> None:
    def build(scope: object, roles: tuple[str, ...]) -> None:
        catalog = PlatformCatalog(scope, "catalog", CatalogProps("shared", OWNER, ("models",), create=False))  # type: ignore[arg-type]
        for role in roles:
            catalog.grant(f"group-{role}", ["USE_CATALOG"], role)

    before = synth(lambda s: build(s, ("analysts", "ml_engineers")))
    after = synth(lambda s: build(s, ("analysts", "data_scientists", "ml_engineers")))
    assert not of_type(before, "databricks_catalog")
    assert only(before, "databricks_schema")["catalog_name"] == "shared"
    # Adding a role adds one address and renames none (a rename would destroy and recreate a grant).
    assert set(of_type(before, "databricks_grant")) < set(of_type(after, "databricks_grant"))
    assert all("analysts" in k or "ml_engineers" in k for k in of_type(before, "databricks_grant"))


def test_fails_to_grant_on_a_schema_the_platform_does_not_own() -> None:
    def build(scope: object) -> None:
        catalog = PlatformCatalog(scope, "catalog", CatalogProps("mlops_dev", OWNER, ("models",)))  # type: ignore[arg-type]
        catalog.grant("analysts", ["SELECT"], "analysts", schema="features")

    with pytest.raises(KeyError, match="unknown schema 'features'; platform schemas: models"):
        synth(build)
