"""Workspace hardening (Security Reference Architecture settings) and the platform's folders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.cdk import Construct, Directory, IpAccessList, WorkspaceConf
from infra.constructs._permissions import object_permissions
from mlops_spec.config.environment import IpAccessList as IpAccessListConfig
from mlops_spec.config.environment import SecurityConfig
from mlops_spec.naming import EXPERIMENTS_FOLDER


def _flag(value: bool) -> str:
    # workspace_conf takes a map of strings; the API rejects JSON booleans.
    return "true" if value else "false"


@dataclass(frozen=True)
class WorkspaceSecurityProps:
    security: SecurityConfig
    ip_access_lists: tuple[IpAccessListConfig, ...] = ()


def workspace_settings(props: WorkspaceSecurityProps) -> dict[str, str]:
    """The workspace_conf map. Hardening that costs nobody anything is not configurable."""
    s = props.security
    return {
        "enableTokensConfig": "true",
        "maxTokenLifetimeDays": str(s.max_token_lifetime_days),
        "enforceUserIsolation": "true",
        "enableVerboseAuditLogs": _flag(s.verbose_audit_logs),
        "enableResultsDownloading": _flag(s.results_download),
        "enableExportNotebook": _flag(s.notebook_export),
        "enableNotebookTableClipboard": _flag(s.table_clipboard),
        "enableDbfsFileBrowser": _flag(s.dbfs_file_browser),
        "enableDeprecatedGlobalInitScripts": "false",
        "enableIpAccessLists": _flag(bool(props.ip_access_lists)),
    }


class WorkspaceSecurity(Construct):
    def __init__(self, scope: Construct, id_: str, props: WorkspaceSecurityProps) -> None:
        super().__init__(scope, id_)
        self.settings = workspace_settings(props)
        self.conf = WorkspaceConf(self, "Resource", custom_config=self.settings)
        for acl in props.ip_access_lists:
            IpAccessList(
                self,
                f"ip-{acl.label}",
                label=acl.label,
                list_type=acl.list_type,
                ip_addresses=list(acl.addresses),
                enabled=True,
                depends_on=[self.conf],
            )


@dataclass(frozen=True)
class FolderProps:
    path: str
    access: Mapping[str, tuple[str, str]]
    """Principal name -> (kind, permission level)."""


class PlatformFolder(Construct):
    """The environment's folder and its ``experiments`` subfolder (experiments inherit its ACL).

    ``databricks_mlflow_experiment`` calls CreateExperiment, which fails when the parent folder is
    missing (mlflow/resource_mlflow_experiment.go): experiments are named from ``experiments_path``,
    a reference, so Terraform creates the folder first.
    """

    def __init__(self, scope: Construct, id_: str, props: FolderProps) -> None:
        super().__init__(scope, id_)
        self.directory = Directory(self, "Resource", path=props.path, delete_recursive=False)
        self.experiments = Directory(
            self, "experiments", path=f"{self.directory.path}/{EXPERIMENTS_FOLDER}", delete_recursive=False
        )
        object_permissions(self, "Permissions", props.access, directory_path=self.directory.path)

    @property
    def path(self) -> str:
        return self.directory.path

    @property
    def experiments_path(self) -> str:
        return self.experiments.path
