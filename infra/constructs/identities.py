"""RBAC identities as the workspace sees them: account groups and service principals, and entitlements.

Identities belong to the account (identity federation): Unity Catalog grants and ownership take only
account-level principals, and a group created through a workspace's SCIM API is workspace-local
(Databricks SQL reference, "Principal"). The environment stack therefore looks every identity up by
name; the account stack (``stacks/account.yaml``) creates and assigns them, or they already exist.
Every name handed out is a reference to the lookup, so anything that names a principal waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from infra.cdk import Construct, DataDatabricksGroup, DataDatabricksServicePrincipal, Entitlements
from mlops_spec.config.environment import ServicePrincipal as ServicePrincipalConfig
from mlops_spec.config.roles import RoleMatrix

Kind = Literal["group", "service_principal"]


@dataclass(frozen=True)
class Principal:
    """How ACLs, grants, owners and ``run_as`` name an identity."""

    role: str
    kind: Kind
    name: str
    """A reference to the group's display name or the service principal's application id."""
    acl_principal_id: str
    """``groups/<name>`` or ``servicePrincipals/<application id>``: how account role rules name it."""


@dataclass(frozen=True)
class IdentitiesProps:
    roles: RoleMatrix
    groups: Mapping[str, str]
    """Role key -> group display name."""
    service_principals: Mapping[str, ServicePrincipalConfig]


class Identities(Construct):
    def __init__(self, scope: Construct, id_: str, props: IdentitiesProps) -> None:
        super().__init__(scope, id_)
        self._principals: dict[str, Principal] = {}
        for role, spec in props.roles.roles.items():
            names = props.groups if spec.kind == "group" else props.service_principals
            if role not in names:
                kind = "group name" if spec.kind == "group" else "service principal"
                raise KeyError(f"role {role!r}: no {kind} configured; configured: {', '.join(sorted(names))}")
            if spec.kind == "group":
                group = DataDatabricksGroup(self, role, display_name=props.groups[role])
                principal = Principal(role, "group", group.display_name, group.acl_principal_id)
                group_id, service_principal_id = group.id, None
            else:
                cfg = props.service_principals[role]
                # Looked up by one key: the application id when configured, else the display name.
                sp = DataDatabricksServicePrincipal(
                    self,
                    role,
                    application_id=cfg.application_id or None,
                    display_name=None if cfg.application_id else cfg.display_name,
                )
                principal = Principal(role, "service_principal", sp.application_id, sp.acl_principal_id)
                group_id, service_principal_id = None, sp.id
            self._principals[role] = principal
            ent = spec.entitlements
            Entitlements(
                self,
                f"{role}-entitlements",
                workspace_access=ent.workspace_access,
                databricks_sql_access=ent.databricks_sql_access,
                allow_cluster_create=ent.allow_cluster_create,
                allow_instance_pool_create=ent.allow_instance_pool_create,
                group_id=group_id,
                service_principal_id=service_principal_id,
            )

    def principal(self, role: str) -> Principal:
        try:
            return self._principals[role]
        except KeyError:
            raise KeyError(f"unknown role {role!r}; known: {', '.join(sorted(self._principals))}") from None

    def principals(self) -> dict[str, Principal]:
        return dict(self._principals)
