"""Account-level constructs (``accounts.cloud.databricks.com``): workspaces, metastores, identities.

They run under the account stack's provider (host + account id), except the metastore grants, which
Unity Catalog only takes through a workspace (``DeployerAccess``).
"""

from infra.constructs.account.deployer_access import DeployerAccess, DeployerAccessProps
from infra.constructs.account.identities import AccountIdentities, AccountIdentitiesProps
from infra.constructs.account.metastore import RegionMetastore, RegionMetastoreProps
from infra.constructs.account.workspace import AwsWorkspace, AwsWorkspaceProps, ExistingWorkspace

__all__ = [
    "AccountIdentities",
    "AccountIdentitiesProps",
    "AwsWorkspace",
    "AwsWorkspaceProps",
    "DeployerAccess",
    "DeployerAccessProps",
    "ExistingWorkspace",
    "RegionMetastore",
    "RegionMetastoreProps",
]
