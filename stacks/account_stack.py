"""The account stack: workspaces, Unity Catalog metastores and identities, at the account level.

Its provider talks to the account console (host + account id) as an OAuth M2M service principal
whose client id and secret come from the environment (``DATABRICKS_CLIENT_ID`` /
``DATABRICKS_CLIENT_SECRET``), never from code. The environment stacks depend on it.
"""

from __future__ import annotations

from infra.cdk import Construct, DatabricksProvider, TerraformOutput, TerraformStack
from infra.constructs.account import (
    AccountIdentities,
    AccountIdentitiesProps,
    AwsWorkspace,
    AwsWorkspaceProps,
    ExistingWorkspace,
    RegionMetastore,
    RegionMetastoreProps,
)
from mlops_spec.config.account import AccountConfig, GreenfieldWorkspace
from mlops_spec.naming import local_state_path, platform_tags
from stacks.environment_stack import add_backend

ACCOUNT_STACK = "account"
LOCAL_STATE = local_state_path(ACCOUNT_STACK)
"""Also the path the environment stacks' remote-state lookup reads (relative to their own folder)."""


def workspace_name(env: str) -> str:
    return f"mlops-{env}"


class AccountStack(TerraformStack):
    def __init__(self, scope: Construct, id_: str, account: AccountConfig) -> None:
        super().__init__(scope, id_)
        self.account = account
        settings = account.account
        DatabricksProvider(
            self, "databricks", host=settings.host, account_id=settings.account_id, auth_type="oauth-m2m"
        )
        add_backend(self, account.state_backend, LOCAL_STATE)
        ids = account.identities
        self.identities = AccountIdentities(
            self,
            "identities",
            AccountIdentitiesProps(
                groups=ids.groups,
                service_principals=ids.service_principals,
                envs=tuple(account.workspaces),
                workspace_admins=ids.workspace_admins,
            ),
        )
        self.metastores = {
            region: RegionMetastore(
                self,
                f"metastore-{region}",
                RegionMetastoreProps(
                    region=region,
                    # A reference, not the literal name: the group exists before it owns anything.
                    owner=self.identities.group(ms.admin_group).display_name,
                    name=ms.name,
                    storage_root=ms.storage_root,
                    existing_id=ms.existing_id,
                ),
            )
            for region, ms in sorted(account.metastores.items())
        }
        self.workspaces: dict[str, AwsWorkspace | ExistingWorkspace] = {
            env: self._workspace(env) for env in account.workspaces
        }

    def _workspace(self, env: str) -> AwsWorkspace | ExistingWorkspace:
        cfg = self.account.workspaces[env]
        if isinstance(cfg, GreenfieldWorkspace):
            workspace: AwsWorkspace | ExistingWorkspace = AwsWorkspace(
                self,
                f"workspace-{env}",
                AwsWorkspaceProps(
                    account_id=self.account.account.account_id,
                    name=cfg.workspace_name or workspace_name(env),
                    config=cfg,
                    tags=platform_tags(self.account.tags, env=env),
                    prevent_destroy=env == "prod",
                ),
            )
        else:
            assert cfg.workspace_url and cfg.workspace_id  # enforced by check_account
            workspace = ExistingWorkspace(cfg.workspace_url, int(cfg.workspace_id))
        assignment = self.metastores[cfg.region].assign(f"assign-{env}", workspace.workspace_id)
        self.identities.assign(env, workspace.workspace_id, depends_on=[assignment])
        TerraformOutput(self, f"workspace-url-{env}", value=workspace.workspace_url)
        TerraformOutput(self, f"workspace-id-{env}", value=workspace.workspace_id)
        return workspace

    def workspace_url(self, env: str) -> str | None:
        """The env stack's provider host: a cross-stack reference (greenfield) or the configured URL."""
        workspace = self.workspaces.get(env)
        return workspace.workspace_url if workspace else None
