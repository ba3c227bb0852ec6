"""Workspace hardening, the platform folder, secret scopes and serving endpoints."""

from __future__ import annotations

from infra.constructs.secrets import PlatformSecretScope, SecretScopeProps
from infra.constructs.serving import ServingEndpoint, ServingEndpointProps
from infra.constructs.workspace import (
    FolderProps,
    PlatformFolder,
    WorkspaceSecurity,
    WorkspaceSecurityProps,
)
from mlops_spec.config.environment import IpAccessList, SecurityConfig
from tests.cdk_constructs.conftest import of_type, only, synth


def test_hardening_defaults_and_ip_lists_that_wait_for_the_setting_that_enables_them() -> None:
    doc = synth(lambda s: WorkspaceSecurity(s, "sec", WorkspaceSecurityProps(SecurityConfig())))
    conf = only(doc, "databricks_workspace_conf")["custom_config"]
    assert conf["enforceUserIsolation"] == "true" and conf["enableIpAccessLists"] == "false"
    assert not of_type(doc, "databricks_ip_access_list")
    lists = (IpAccessList(label="vpn", list_type="ALLOW", addresses=("203.0.113.0/24",)),)
    doc = synth(lambda s: WorkspaceSecurity(s, "sec", WorkspaceSecurityProps(SecurityConfig(), lists)))
    assert only(doc, "databricks_workspace_conf")["custom_config"]["enableIpAccessLists"] == "true"
    (conf_name,) = of_type(doc, "databricks_workspace_conf")
    assert only(doc, "databricks_ip_access_list")["depends_on"] == [f"databricks_workspace_conf.{conf_name}"]


def test_the_folder_and_its_experiments_subfolder_reference_each_other_and_carry_the_acl() -> None:
    access = {"mlops-engineers": ("group", "CAN_MANAGE")}
    doc = synth(lambda s: PlatformFolder(s, "folder", FolderProps("/mlops/Development", access)))
    folders = of_type(doc, "databricks_directory")
    (root,) = (name for name, f in folders.items() if f["path"] == "/mlops/Development")
    paths = {f["path"] for f in folders.values()}
    assert paths == {"/mlops/Development", f"${{databricks_directory.{root}.path}}/experiments"}
    acl = only(doc, "databricks_permissions")
    assert acl["access_control"] == [{"group_name": "mlops-engineers", "permission_level": "CAN_MANAGE"}]
    doc = synth(lambda s: PlatformFolder(s, "folder", FolderProps("/mlops/Development", {})))
    assert not of_type(doc, "databricks_permissions")  # nobody granted anything: no ACL resource


def test_a_secret_scope_holds_acls_and_never_a_value() -> None:
    acls = {"mlops_engineers": ("mlops-engineers", "MANAGE"), "job_runner": ("app-id", "READ")}
    doc = synth(lambda s: PlatformSecretScope(s, "scope", SecretScopeProps("mlops-dev", acls)))
    assert only(doc, "databricks_secret_scope")["name"] == "mlops-dev"
    assert {a["permission"] for a in of_type(doc, "databricks_secret_acl").values()} == {"MANAGE", "READ"}
    assert not of_type(doc, "databricks_secret")


def test_an_endpoint_without_config_with_inference_tables_by_reference_and_optional_protection() -> None:
    props = ServingEndpointProps(
        name="churn-dev",
        model_full_name="mlops_dev.models.churn",
        inference_catalog="${databricks_schema.logs.catalog_name}",
        inference_schema="${databricks_schema.logs.name}",
        table_prefix="churn",
        rate_limit_per_minute=600,
        tags={"env": "dev"},
    )
    endpoint = only(synth(lambda s: ServingEndpoint(s, "ep", props)), "databricks_model_serving")
    assert "config" not in endpoint and endpoint["lifecycle"] == {"ignore_changes": ["config"]}
    assert endpoint["ai_gateway"]["inference_table_config"]["schema_name"] == "${databricks_schema.logs.name}"
    protected = ServingEndpointProps(
        **{**props.__dict__, "prevent_destroy": True, "access": {"g": ("group", "CAN_QUERY")}}
    )
    doc = synth(lambda s: ServingEndpoint(s, "ep", protected))
    assert only(doc, "databricks_model_serving")["lifecycle"]["prevent_destroy"] is True
    assert only(doc, "databricks_permissions")["access_control"][0]["permission_level"] == "CAN_QUERY"
