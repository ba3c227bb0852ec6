"""The only module that imports the CDK and the Databricks provider bindings.

Two toolchains synthesize the same stacks, chosen by one setting, ``MLOPS_TOOLCHAIN`` (the Makefile's
``TOOLCHAIN``): ``cdktf`` (default; CDKTF 0.21, its last release, binding provider 1.99.0) or ``cdktn``
(CDK Terrain, the maintained fork: ``cdktn`` with ``cdktn-provider-databricks``, installed by
``make install-cdktn`` into ``.venv-cdktn``). The fork keeps the API: only the package names differ.
``make toolchains-check`` synthesizes with both and fails on any difference beyond the provider
version and the toolchain's own metadata.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # The checker reads the default toolchain's bindings, so a call to a construct or a struct is checked
    # against its generated signature; CDK Terrain keeps the API (only package names differ). At run time
    # the same names come from the selected toolchain (the globals() update below); a test
    # (tests/deploy/test_toolchains.py) keeps this list and CORE_NAMES/PROVIDER_NAMES the same.
    # (F401: these are this module's exports, not used in it.)
    from cdktf import (  # noqa: F401
        App,
        AssetType,
        AzurermBackend,
        Fn,
        GcsBackend,
        ITerraformDependable,
        LocalBackend,
        S3Backend,
        TerraformAsset,
        TerraformOutput,
        TerraformStack,
        TerraformVariable,
        Testing,
        Token,
    )
    from cdktf_cdktf_provider_databricks.access_control_rule_set import (  # noqa: F401
        AccessControlRuleSet,
        AccessControlRuleSetGrantRules,
    )
    from cdktf_cdktf_provider_databricks.alert_v2 import (  # noqa: F401
        AlertV2,
        AlertV2EvaluationNotificationSubscriptions,
    )
    from cdktf_cdktf_provider_databricks.catalog import Catalog  # noqa: F401
    from cdktf_cdktf_provider_databricks.cluster_policy import ClusterPolicy  # noqa: F401
    from cdktf_cdktf_provider_databricks.dashboard import Dashboard  # noqa: F401
    from cdktf_cdktf_provider_databricks.data_databricks_group import DataDatabricksGroup  # noqa: F401
    from cdktf_cdktf_provider_databricks.data_databricks_service_principal import (  # noqa: F401
        DataDatabricksServicePrincipal,
    )
    from cdktf_cdktf_provider_databricks.directory import Directory  # noqa: F401
    from cdktf_cdktf_provider_databricks.entitlements import Entitlements  # noqa: F401
    from cdktf_cdktf_provider_databricks.external_location import ExternalLocation  # noqa: F401
    from cdktf_cdktf_provider_databricks.file import File  # noqa: F401
    from cdktf_cdktf_provider_databricks.grant import Grant  # noqa: F401
    from cdktf_cdktf_provider_databricks.grants import Grants, GrantsGrant  # noqa: F401
    from cdktf_cdktf_provider_databricks.group import Group  # noqa: F401
    from cdktf_cdktf_provider_databricks.group_member import GroupMember  # noqa: F401
    from cdktf_cdktf_provider_databricks.ip_access_list import IpAccessList  # noqa: F401
    from cdktf_cdktf_provider_databricks.job import (  # noqa: F401
        Job,
        JobJobCluster,
        JobTask,
        JobTaskDependsOn,
        JobTaskLibrary,
    )
    from cdktf_cdktf_provider_databricks.metastore import Metastore  # noqa: F401
    from cdktf_cdktf_provider_databricks.metastore_assignment import MetastoreAssignment  # noqa: F401
    from cdktf_cdktf_provider_databricks.mlflow_experiment import MlflowExperiment  # noqa: F401
    from cdktf_cdktf_provider_databricks.model_serving import (  # noqa: F401
        ModelServing,
        ModelServingAiGatewayRateLimits,
        ModelServingTags,
    )
    from cdktf_cdktf_provider_databricks.mws_credentials import MwsCredentials  # noqa: F401
    from cdktf_cdktf_provider_databricks.mws_customer_managed_keys import (  # noqa: F401
        MwsCustomerManagedKeys,
        MwsCustomerManagedKeysAwsKeyInfo,
    )
    from cdktf_cdktf_provider_databricks.mws_networks import (  # noqa: F401
        MwsNetworks,
        MwsNetworksVpcEndpoints,
    )
    from cdktf_cdktf_provider_databricks.mws_permission_assignment import (  # noqa: F401
        MwsPermissionAssignment,
    )
    from cdktf_cdktf_provider_databricks.mws_private_access_settings import (  # noqa: F401
        MwsPrivateAccessSettings,
    )
    from cdktf_cdktf_provider_databricks.mws_storage_configurations import (  # noqa: F401
        MwsStorageConfigurations,
    )
    from cdktf_cdktf_provider_databricks.mws_vpc_endpoint import MwsVpcEndpoint  # noqa: F401
    from cdktf_cdktf_provider_databricks.mws_workspaces import MwsWorkspaces  # noqa: F401
    from cdktf_cdktf_provider_databricks.notification_destination import (  # noqa: F401
        NotificationDestination,
    )
    from cdktf_cdktf_provider_databricks.permissions import (  # noqa: F401
        Permissions,
        PermissionsAccessControl,
    )
    from cdktf_cdktf_provider_databricks.provider import DatabricksProvider  # noqa: F401
    from cdktf_cdktf_provider_databricks.registered_model import RegisteredModel  # noqa: F401
    from cdktf_cdktf_provider_databricks.schema import Schema  # noqa: F401
    from cdktf_cdktf_provider_databricks.secret_acl import SecretAcl  # noqa: F401
    from cdktf_cdktf_provider_databricks.secret_scope import SecretScope  # noqa: F401
    from cdktf_cdktf_provider_databricks.service_principal import ServicePrincipal  # noqa: F401
    from cdktf_cdktf_provider_databricks.sql_endpoint import SqlEndpoint  # noqa: F401
    from cdktf_cdktf_provider_databricks.sql_table import SqlTable, SqlTableColumn  # noqa: F401
    from cdktf_cdktf_provider_databricks.storage_credential import (  # noqa: F401
        StorageCredential,
        StorageCredentialAwsIamRole,
    )
    from cdktf_cdktf_provider_databricks.volume import Volume  # noqa: F401
    from cdktf_cdktf_provider_databricks.workspace_conf import WorkspaceConf  # noqa: F401
    from constructs import Construct  # noqa: F401

TOOLCHAIN_VARIABLE = "MLOPS_TOOLCHAIN"
# toolchain -> (core package, provider binding package, what installs it)
TOOLCHAINS = {
    "cdktf": ("cdktf", "cdktf_cdktf_provider_databricks", "make install"),
    "cdktn": ("cdktn", "cdktn_provider_databricks", "make install-cdktn"),
}
DEFAULT_TOOLCHAIN = "cdktf"

CORE_NAMES = (
    "App",
    "AssetType",
    "AzurermBackend",
    "Fn",
    "GcsBackend",
    "ITerraformDependable",
    "LocalBackend",
    "S3Backend",
    "TerraformAsset",
    "TerraformOutput",
    "TerraformStack",
    "TerraformVariable",
    "Testing",
    "Token",
)
# provider submodule -> classes taken from it
PROVIDER_NAMES = {
    "access_control_rule_set": ("AccessControlRuleSet", "AccessControlRuleSetGrantRules"),
    "alert_v2": ("AlertV2", "AlertV2EvaluationNotificationSubscriptions"),
    "catalog": ("Catalog",),
    "dashboard": ("Dashboard",),
    "cluster_policy": ("ClusterPolicy",),
    "data_databricks_group": ("DataDatabricksGroup",),
    "data_databricks_service_principal": ("DataDatabricksServicePrincipal",),
    "directory": ("Directory",),
    "entitlements": ("Entitlements",),
    "external_location": ("ExternalLocation",),
    "file": ("File",),
    "grant": ("Grant",),
    "grants": ("Grants", "GrantsGrant"),
    "group": ("Group",),
    "group_member": ("GroupMember",),
    "ip_access_list": ("IpAccessList",),
    "job": ("Job", "JobJobCluster", "JobTask", "JobTaskDependsOn", "JobTaskLibrary"),
    "metastore": ("Metastore",),
    "metastore_assignment": ("MetastoreAssignment",),
    "mlflow_experiment": ("MlflowExperiment",),
    "model_serving": ("ModelServing", "ModelServingAiGatewayRateLimits", "ModelServingTags"),
    "mws_credentials": ("MwsCredentials",),
    "mws_customer_managed_keys": ("MwsCustomerManagedKeys", "MwsCustomerManagedKeysAwsKeyInfo"),
    "mws_networks": ("MwsNetworks", "MwsNetworksVpcEndpoints"),
    "mws_permission_assignment": ("MwsPermissionAssignment",),
    "mws_private_access_settings": ("MwsPrivateAccessSettings",),
    "mws_storage_configurations": ("MwsStorageConfigurations",),
    "mws_vpc_endpoint": ("MwsVpcEndpoint",),
    "mws_workspaces": ("MwsWorkspaces",),
    "notification_destination": ("NotificationDestination",),
    "permissions": ("Permissions", "PermissionsAccessControl"),
    "provider": ("DatabricksProvider",),
    "registered_model": ("RegisteredModel",),
    "schema": ("Schema",),
    "secret_acl": ("SecretAcl",),
    "secret_scope": ("SecretScope",),
    "service_principal": ("ServicePrincipal",),
    "sql_endpoint": ("SqlEndpoint",),
    "sql_table": ("SqlTable", "SqlTableColumn"),
    "storage_credential": ("StorageCredential", "StorageCredentialAwsIamRole"),
    "volume": ("Volume",),
    "workspace_conf": ("WorkspaceConf",),
}


class ToolchainError(ImportError):
    """The chosen toolchain is unknown or not installed in this Python environment."""


def selected_toolchain() -> str:
    name = os.environ.get(TOOLCHAIN_VARIABLE, "") or DEFAULT_TOOLCHAIN
    if name not in TOOLCHAINS:
        raise ToolchainError(
            f"{TOOLCHAIN_VARIABLE}={name!r}: unknown toolchain; allowed: {', '.join(TOOLCHAINS)}"
        )
    return name


def _import(toolchain: str, module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ToolchainError(
            f"{TOOLCHAIN_VARIABLE}={toolchain}: cannot import {module} ({exc}); "
            f"install the toolchain with `{TOOLCHAINS[toolchain][2]}` and use its Python"
        ) from exc


TOOLCHAIN = selected_toolchain()
_CORE, _PROVIDER, _ = TOOLCHAINS[TOOLCHAIN]
_core = _import(TOOLCHAIN, _CORE)
_names: dict[str, Any] = {name: getattr(_core, name) for name in CORE_NAMES}
for _module, _classes in PROVIDER_NAMES.items():
    _sub = _import(TOOLCHAIN, f"{_PROVIDER}.{_module}")
    _names.update({name: getattr(_sub, name) for name in _classes})
_names["Construct"] = _import(TOOLCHAIN, "constructs").Construct
globals().update(_names)


@functools.cache
def provider_version() -> str:
    """The Databricks provider version the installed binding was generated for (and pins)."""
    app = _names["Testing"].app()
    stack = _names["TerraformStack"](app, "provider-version-probe")
    provider = _names["DatabricksProvider"](stack, "databricks")
    return str(provider.terraform_generator_metadata.provider_version)


__all__ = sorted([*_names, "TOOLCHAIN", "ToolchainError", "provider_version"])
