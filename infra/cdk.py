"""The only module that imports cdktf and the Databricks provider bindings.

CDKTF is no longer maintained upstream; its fork CDK Terrain ships the same API as ``cdktn`` and
``cdktn_provider_databricks``. Moving is a change to the imports below and nothing else.
"""

from __future__ import annotations

from cdktf import (
    App,
    AssetType,
    AzurermBackend,
    Fn,
    GcsBackend,
    LocalBackend,
    S3Backend,
    TerraformAsset,
    TerraformOutput,
    TerraformStack,
    Testing,
    Token,
)
from cdktf_cdktf_provider_databricks.access_control_rule_set import (
    AccessControlRuleSet,
    AccessControlRuleSetGrantRules,
)
from cdktf_cdktf_provider_databricks.catalog import Catalog
from cdktf_cdktf_provider_databricks.cluster_policy import ClusterPolicy
from cdktf_cdktf_provider_databricks.data_databricks_group import DataDatabricksGroup
from cdktf_cdktf_provider_databricks.data_databricks_service_principal import DataDatabricksServicePrincipal
from cdktf_cdktf_provider_databricks.directory import Directory
from cdktf_cdktf_provider_databricks.entitlements import Entitlements
from cdktf_cdktf_provider_databricks.external_location import ExternalLocation
from cdktf_cdktf_provider_databricks.file import File
from cdktf_cdktf_provider_databricks.grant import Grant
from cdktf_cdktf_provider_databricks.grants import Grants, GrantsGrant
from cdktf_cdktf_provider_databricks.group import Group
from cdktf_cdktf_provider_databricks.group_member import GroupMember
from cdktf_cdktf_provider_databricks.ip_access_list import IpAccessList
from cdktf_cdktf_provider_databricks.job import Job, JobJobCluster, JobTask, JobTaskDependsOn, JobTaskLibrary
from cdktf_cdktf_provider_databricks.metastore import Metastore
from cdktf_cdktf_provider_databricks.metastore_assignment import MetastoreAssignment
from cdktf_cdktf_provider_databricks.mlflow_experiment import MlflowExperiment
from cdktf_cdktf_provider_databricks.model_serving import (
    ModelServing,
    ModelServingAiGatewayRateLimits,
    ModelServingTags,
)
from cdktf_cdktf_provider_databricks.mws_credentials import MwsCredentials
from cdktf_cdktf_provider_databricks.mws_customer_managed_keys import (
    MwsCustomerManagedKeys,
    MwsCustomerManagedKeysAwsKeyInfo,
)
from cdktf_cdktf_provider_databricks.mws_networks import MwsNetworks, MwsNetworksVpcEndpoints
from cdktf_cdktf_provider_databricks.mws_permission_assignment import MwsPermissionAssignment
from cdktf_cdktf_provider_databricks.mws_private_access_settings import MwsPrivateAccessSettings
from cdktf_cdktf_provider_databricks.mws_storage_configurations import MwsStorageConfigurations
from cdktf_cdktf_provider_databricks.mws_vpc_endpoint import MwsVpcEndpoint
from cdktf_cdktf_provider_databricks.mws_workspaces import MwsWorkspaces
from cdktf_cdktf_provider_databricks.permissions import Permissions, PermissionsAccessControl
from cdktf_cdktf_provider_databricks.provider import DatabricksProvider
from cdktf_cdktf_provider_databricks.registered_model import RegisteredModel
from cdktf_cdktf_provider_databricks.schema import Schema
from cdktf_cdktf_provider_databricks.secret_acl import SecretAcl
from cdktf_cdktf_provider_databricks.secret_scope import SecretScope
from cdktf_cdktf_provider_databricks.service_principal import ServicePrincipal
from cdktf_cdktf_provider_databricks.storage_credential import StorageCredential, StorageCredentialAwsIamRole
from cdktf_cdktf_provider_databricks.volume import Volume
from cdktf_cdktf_provider_databricks.workspace_conf import WorkspaceConf
from constructs import Construct

__all__ = [
    "AccessControlRuleSet",
    "AccessControlRuleSetGrantRules",
    "App",
    "AssetType",
    "AzurermBackend",
    "Catalog",
    "ClusterPolicy",
    "Construct",
    "DataDatabricksGroup",
    "DataDatabricksServicePrincipal",
    "DatabricksProvider",
    "Directory",
    "Entitlements",
    "ExternalLocation",
    "File",
    "Fn",
    "GcsBackend",
    "Grant",
    "Grants",
    "GrantsGrant",
    "Group",
    "GroupMember",
    "IpAccessList",
    "Job",
    "JobJobCluster",
    "JobTask",
    "JobTaskDependsOn",
    "JobTaskLibrary",
    "LocalBackend",
    "Metastore",
    "MetastoreAssignment",
    "MlflowExperiment",
    "ModelServing",
    "ModelServingAiGatewayRateLimits",
    "ModelServingTags",
    "MwsCredentials",
    "MwsCustomerManagedKeys",
    "MwsCustomerManagedKeysAwsKeyInfo",
    "MwsNetworks",
    "MwsNetworksVpcEndpoints",
    "MwsPermissionAssignment",
    "MwsPrivateAccessSettings",
    "MwsStorageConfigurations",
    "MwsVpcEndpoint",
    "MwsWorkspaces",
    "Permissions",
    "PermissionsAccessControl",
    "RegisteredModel",
    "S3Backend",
    "Schema",
    "SecretAcl",
    "SecretScope",
    "ServicePrincipal",
    "StorageCredential",
    "StorageCredentialAwsIamRole",
    "TerraformAsset",
    "TerraformOutput",
    "TerraformStack",
    "Testing",
    "Token",
    "Volume",
    "WorkspaceConf",
]
