"""Workspace hardening and the platform folder (secret scopes and endpoints: test_secrets, test_serving)."""

from __future__ import annotations

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
