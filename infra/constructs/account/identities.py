"""Account groups and service principals, created once and assigned to workspaces.

Identity federation: workspaces see account principals through ``databricks_mws_permission_assignment``,
so the environment stacks look them up instead of creating copies. A name with ``{env}`` in it makes
one principal per workspace (the deployer and job runner of each environment, and the group that owns
that environment's registered models, whose members come from ``members`` in the role matrix).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from infra.cdk import (
    Construct,
    Group,
    GroupMember,
    ITerraformDependable,
    MwsPermissionAssignment,
    ServicePrincipal,
    Token,
)
from mlops_spec.config.account import ENV_PLACEHOLDER


@dataclass(frozen=True)
class AccountIdentitiesProps:
    groups: Mapping[str, str]
    """Role key -> group display name; ``{env}`` in it means one group per environment."""
    service_principals: Mapping[str, str]
    """Role key -> display name; ``{env}`` in it means one principal per environment."""
    envs: Sequence[str]
    """Environments that have a workspace: per-environment principals are created for these."""
    workspace_admins: tuple[str, ...] = ()
    """Role keys assigned ADMIN; everyone else gets USER."""
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Group role key -> service principal role keys that are its members."""


class AccountIdentities(Construct):
    def __init__(self, scope: Construct, id_: str, props: AccountIdentitiesProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        # (role, env or None when shared) -> principal
        self.groups: dict[tuple[str, str | None], Group] = {}
        for key, name in sorted(props.groups.items()):
            for env in self._envs(name):
                gid = f"group-{key}-{env}" if env else f"group-{key}"
                self.groups[(key, env)] = Group(
                    self, gid, display_name=name.replace(ENV_PLACEHOLDER, env or "")
                )
        self.service_principals: dict[tuple[str, str | None], ServicePrincipal] = {}
        for key, name in sorted(props.service_principals.items()):
            for env in self._envs(name):
                sp_id = f"sp-{key}-{env}" if env else f"sp-{key}"
                self.service_principals[(key, env)] = ServicePrincipal(
                    self, sp_id, display_name=name.replace(ENV_PLACEHOLDER, env or "")
                )
        for (key, env), group in sorted(self.groups.items(), key=lambda i: (i[0][0], i[0][1] or "")):
            for member in props.members.get(key, ()):
                sp = self.service_principal(member, env)
                suffix = f"-{env}" if env else ""
                GroupMember(self, f"member-{key}-{member}{suffix}", group_id=group.id, member_id=sp.id)

    def _envs(self, name: str) -> Sequence[str | None]:
        return self.props.envs if ENV_PLACEHOLDER in name else (None,)

    def group(self, key: str, env: str | None = None) -> Group:
        return self.groups.get((key, env)) or self.groups[(key, None)]

    def service_principal(self, key: str, env: str | None) -> ServicePrincipal:
        return self.service_principals.get((key, env)) or self.service_principals[(key, None)]

    def assign(self, env: str, workspace_id: float, depends_on: Sequence[ITerraformDependable] = ()) -> None:
        """Give the shared groups, and the environment's own principals, access to one workspace."""
        principals: list[tuple[str, str, str]] = []
        for (key, group_env), group in self.groups.items():
            if group_env in (env, None):
                principals.append((key, "group", group.id))
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
