"""Account groups and service principals, created once and assigned to workspaces.

Identity federation: workspaces see account principals through ``databricks_mws_permission_assignment``,
so the environment stacks look them up (``Identities(from_account=True)``) instead of creating copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.cdk import Construct, Group, MwsPermissionAssignment, ServicePrincipal, Token
from mlops_spec.config.account import ENV_PLACEHOLDER


@dataclass(frozen=True)
class AccountIdentitiesProps:
    groups: Mapping[str, str]
    """Role key -> group display name."""
    service_principals: Mapping[str, str]
    """Role key -> display name; ``{env}`` in it means one principal per environment."""
    envs: Sequence[str]
    """Environments that have a workspace: per-environment principals are created for these."""
    workspace_admins: tuple[str, ...] = ()
    """Role keys assigned ADMIN; everyone else gets USER."""


class AccountIdentities(Construct):
    def __init__(self, scope: Construct, id_: str, props: AccountIdentitiesProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.groups = {
            key: Group(self, f"group-{key}", display_name=name) for key, name in sorted(props.groups.items())
        }
        # (role, env or None when shared) -> principal
        self.service_principals: dict[tuple[str, str | None], ServicePrincipal] = {}
        for key, name in sorted(props.service_principals.items()):
            envs: Sequence[str | None] = props.envs if ENV_PLACEHOLDER in name else (None,)
            for env in envs:
                sp_id = f"sp-{key}-{env}" if env else f"sp-{key}"
                self.service_principals[(key, env)] = ServicePrincipal(
                    self, sp_id, display_name=name.replace(ENV_PLACEHOLDER, env or "")
                )

    def group(self, key: str) -> Group:
        return self.groups[key]

    def assign(self, env: str, workspace_id: float, depends_on: Sequence[object] = ()) -> None:
        """Give every group, and the environment's service principals, access to one workspace."""
        principals: list[tuple[str, str, str]] = [(k, "group", g.id) for k, g in self.groups.items()]
        for (key, sp_env), sp in self.service_principals.items():
            if sp_env in (env, None):
                principals.append((key, "sp", sp.id))
        for key, kind, principal_id in principals:
            level = "ADMIN" if key in self.props.workspace_admins else "USER"
            MwsPermissionAssignment(
                self,
                f"assign-{env}-{kind}-{key}",
                workspace_id=workspace_id,
                principal_id=Token.as_number(principal_id),
                permissions=[level],
                # Assignments need identity federation, which the metastore assignment turns on.
                depends_on=list(depends_on) or None,
            )
