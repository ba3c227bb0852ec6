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
from typing import Any

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
    "LocalBackend",
    "S3Backend",
    "TerraformAsset",
    "TerraformOutput",
    "TerraformStack",
    "Testing",
    "Token",
)
# provider submodule -> classes taken from it
PROVIDER_NAMES = {
    "access_control_rule_set": ("AccessControlRuleSet", "AccessControlRuleSetGrantRules"),
    "catalog": ("Catalog",),
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
    "permissions": ("Permissions", "PermissionsAccessControl"),
    "provider": ("DatabricksProvider",),
    "registered_model": ("RegisteredModel",),
    "schema": ("Schema",),
    "secret_acl": ("SecretAcl",),
    "secret_scope": ("SecretScope",),
    "service_principal": ("ServicePrincipal",),
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
