"""Account-level constructs (``accounts.cloud.databricks.com``): workspaces, metastores, identities.

They run under the account stack's provider (host + account id), never a workspace's.
"""

from infra.constructs.account.identities import AccountIdentities, AccountIdentitiesProps
from infra.constructs.account.metastore import RegionMetastore, RegionMetastoreProps
from infra.constructs.account.workspace import AwsWorkspace, AwsWorkspaceProps, ExistingWorkspace

__all__ = [
    "AccountIdentities",
    "AccountIdentitiesProps",
    "AwsWorkspace",
    "AwsWorkspaceProps",
    "ExistingWorkspace",
    "RegionMetastore",
    "RegionMetastoreProps",
]
