"""Secret scopes and their ACLs. Values never pass through Terraform: see README 'Secrets'."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.cdk import Construct, SecretAcl, SecretScope

# The levels of a secret ACL (databricks-sdk service/workspace.py, AclPermission: the REST API reference).
ACL_PERMISSIONS = ("MANAGE", "READ", "WRITE")


@dataclass(frozen=True)
class SecretScopeProps:
    name: str
    acls: Mapping[str, tuple[str, str]]
    """Role -> (principal name, READ | WRITE | MANAGE); the role keeps construct IDs stable."""

    def __post_init__(self) -> None:
        for role, (_, permission) in sorted(self.acls.items()):
            if permission not in ACL_PERMISSIONS:
                raise ValueError(
                    f"secret scope {self.name}: acls.{role}: unknown permission; got {permission!r}; "
                    f"allowed: {', '.join(ACL_PERMISSIONS)}"
                )


class PlatformSecretScope(Construct):
    def __init__(self, scope: Construct, id_: str, props: SecretScopeProps) -> None:
        super().__init__(scope, id_)
        self.scope = SecretScope(self, "Resource", name=props.name)
        self.name = props.name
        for role, (principal, permission) in sorted(props.acls.items()):
            SecretAcl(self, f"acl-{role}", scope=self.scope.name, principal=principal, permission=permission)
