"""The account stack: workspaces, Unity Catalog metastores and identities, at the account level.

Its provider talks to the account console (host + account id) as the account-admin service principal
(``account.admin_application_id``); credentials and auth type come from the environment (OAuth M2M
client id/secret or GitHub OIDC), never from code. Per region, a second provider talks to one workspace
of the region as the same principal, to grant each deployer its metastore privileges (Unity Catalog
grants are a workspace API). The environment stacks depend on it; ``make deploy-account`` applies it.
"""

from __future__ import annotations

from collections.abc import Collection

from infra.cdk import (
    Construct,
    DatabricksProvider,
    DataDatabricksServicePrincipal,
    MetastoreAssignment,
    MwsPermissionAssignment,
    TerraformOutput,
    TerraformStack,
    Token,
)
from infra.constructs.account import (
    AccountIdentities,
    AccountIdentitiesProps,
    AwsWorkspace,
    AwsWorkspaceProps,
    DeployerAccess,
    DeployerAccessProps,
    ExistingWorkspace,
    RegionMetastore,
    RegionMetastoreProps,
)
from mlops_spec.config.account import AccountConfig, GreenfieldWorkspace
from mlops_spec.config.environment import ACCOUNT_STACK, EnvName
from mlops_spec.config.roles import RoleMatrix
from mlops_spec.naming import local_state_path, platform_tags, storage_credential_name
from stacks.environment_stack import add_backend

LOCAL_STATE = local_state_path(ACCOUNT_STACK)
"""Also the path the environment stacks' remote-state lookup reads (relative to their own folder)."""


def workspace_name(env: str) -> str:
    return f"mlops-{env}"


class AccountStack(TerraformStack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        account: AccountConfig,
        roles: RoleMatrix,
        production: Collection[str],
    ) -> None:
        """``production``: the production environments (``production_envs``): undeletable workspaces,
        never the one that grants metastore privileges when another can."""
        super().__init__(scope, id_)
        self.account = account
        self.roles = roles
        self.production = frozenset(production)
        settings = account.account
        # No auth_type: it comes from DATABRICKS_AUTH_TYPE or the credentials present (OAuth M2M, OIDC).
        DatabricksProvider(self, "databricks", host=settings.host, account_id=settings.account_id)
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
                members={k: r.members for k, r in roles.roles.items() if r.members},
            ),
        )
        self.admin = DataDatabricksServicePrincipal(
            self, "account-admin", application_id=settings.admin_application_id
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
        self.assignments: dict[str, MetastoreAssignment] = {}
        self.workspaces: dict[str, AwsWorkspace | ExistingWorkspace] = {
            env: self._workspace(env) for env in account.workspaces
        }
        self.access = self._deployer_access()

    def _workspace(self, env: EnvName) -> AwsWorkspace | ExistingWorkspace:
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
                    prevent_destroy=env in self.production,
                ),
            )
        else:
            assert cfg.workspace_url and cfg.workspace_id  # enforced by check_account
            workspace = ExistingWorkspace(cfg.workspace_url, int(cfg.workspace_id))
        assignment = self.metastores[cfg.region].assign(f"assign-{env}", workspace.workspace_id)
        self.assignments[env] = assignment
        self.identities.assign(env, workspace.workspace_id, depends_on=[assignment])
        TerraformOutput(self, f"workspace-url-{env}", value=workspace.workspace_url)
        TerraformOutput(self, f"workspace-id-{env}", value=workspace.workspace_id)
        return workspace

    def _deployer_access(self) -> dict[str, DeployerAccess]:
        """Per region one workspace provider; per environment its deployer's metastore access."""
        access: dict[str, DeployerAccess] = {}
        for region in sorted(self.account.metastores):
            grants_env = self.account.grants_workspace(region, self.production)
            if grants_env is None:
                continue
            workspace = self.workspaces[grants_env]
            # The account admin calls the workspace's Unity Catalog API: it must be a user there.
            admin_assignment = MwsPermissionAssignment(
                self,
                f"assign-{grants_env}-account-admin",
                workspace_id=workspace.workspace_id,
                principal_id=Token.as_number(self.admin.id),
                permissions=["USER"],
                depends_on=[self.assignments[grants_env]],
            )
            provider = DatabricksProvider(
                self,
                f"databricks-{region}",
                alias=f"grants_{region.replace('-', '_')}",
                host=workspace.workspace_url,
            )
            for env, cfg in sorted(self.account.workspaces.items()):
                if cfg.region != region:
                    continue
                access[env] = DeployerAccess(
                    self,
                    f"deployer-access-{env}",
                    DeployerAccessProps(
                        account_id=self.account.account.account_id,
                        metastore_id=self.metastores[region].metastore_id,
                        deployer=self.identities.service_principal(self.roles.deployer_role, env),
                        job_runner=self.identities.service_principal(self.roles.job_runner_role, env),
                        grants_provider=provider,
                        grants_depend_on=[admin_assignment, self.assignments[grants_env]],
                        credential_name=storage_credential_name(env),
                        credential_role_arn=cfg.catalog_storage_role_arn,
                    ),
                )
        return access

    def storage_credential_name(self, env: str) -> str | None:
        """The env stack's storage credential: a cross-stack reference, or None (it brings its own)."""
        access = self.access.get(env)
        return access.credential_name if access else None

    def workspace_url(self, env: str) -> str | None:
        """The env stack's provider host: a cross-stack reference (greenfield) or the configured URL."""
        workspace = self.workspaces.get(env)
        return workspace.workspace_url if workspace else None
