"""RBAC identities: groups for people, service principals for automation, and their entitlements.

Identities are created here by default. When the account stack owns them (identity federation),
``from_account=True`` looks them up instead, so no workspace-local copy competes with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from infra.cdk import (
    Construct,
    DataDatabricksGroup,
    DataDatabricksServicePrincipal,
    Entitlements,
    Group,
    ServicePrincipal,
)
from mlops_spec.config.environment import ServicePrincipal as ServicePrincipalConfig
from mlops_spec.config.roles import RoleMatrix

Kind = Literal["group", "service_principal"]


@dataclass(frozen=True)
class Principal:
    """How ACLs, grants and ``run_as`` name an identity."""

    role: str
    kind: Kind
    name: str
    """Group display name, or a service principal's application id (a token until apply)."""


@dataclass(frozen=True)
class IdentitiesProps:
    roles: RoleMatrix
    groups: Mapping[str, str]
    service_principals: Mapping[str, ServicePrincipalConfig]
    from_account: bool = False


class Identities(Construct):
    def __init__(self, scope: Construct, id_: str, props: IdentitiesProps) -> None:
        super().__init__(scope, id_)
        self._principals: dict[str, Principal] = {}
        for role, spec in props.roles.roles.items():
            if spec.kind == "group":
                ident_id, name = self._group(role, props.groups[role], props.from_account)
                target = {"group_id": ident_id}
            else:
                ident_id, name = self._service_principal(
                    role, props.service_principals[role], props.from_account
                )
                target = {"service_principal_id": ident_id}
            self._principals[role] = Principal(role, spec.kind, name)
            ent = spec.entitlements
            Entitlements(
                self,
                f"{role}-entitlements",
                workspace_access=ent.workspace_access,
                databricks_sql_access=ent.databricks_sql_access,
                allow_cluster_create=ent.allow_cluster_create,
                allow_instance_pool_create=ent.allow_instance_pool_create,
                **target,
            )

    def _group(self, role: str, display_name: str, from_account: bool) -> tuple[str, str]:
        if from_account:
            found = DataDatabricksGroup(self, role, display_name=display_name)
            return found.id, display_name
        group = Group(self, role, display_name=display_name)
        return group.id, display_name

    def _service_principal(
        self, role: str, cfg: ServicePrincipalConfig, from_account: bool
    ) -> tuple[str, str]:
        if from_account or cfg.application_id:
            kwargs = (
                {"application_id": cfg.application_id}
                if cfg.application_id
                else {"display_name": cfg.display_name}
            )
            found = DataDatabricksServicePrincipal(self, role, **kwargs)
            return found.id, found.application_id
        sp = ServicePrincipal(self, role, display_name=cfg.display_name)
        return sp.id, sp.application_id

    def principal(self, role: str) -> Principal:
        try:
            return self._principals[role]
        except KeyError:
            raise KeyError(f"unknown role {role!r}; known: {', '.join(sorted(self._principals))}") from None

    def principals(self) -> dict[str, Principal]:
        return dict(self._principals)
