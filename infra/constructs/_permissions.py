"""One helper for ``databricks_permissions``: every object ACL in the platform goes through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, Unpack

from infra.cdk import Construct, Permissions, PermissionsAccessControl

PRINCIPAL_KEYS = ("group_name", "service_principal_name", "user_name")


class PermissionsTarget(TypedDict, total=False):
    """The object a ``databricks_permissions`` applies to: exactly one of these keys is given."""

    cluster_policy_id: str
    dashboard_id: str
    directory_path: str
    experiment_id: str
    job_id: str
    serving_endpoint_id: str
    sql_endpoint_id: str


def access_control(principals: Mapping[str, tuple[str, str]]) -> list[PermissionsAccessControl]:
    """``{name: (kind, level)}`` -> access_control blocks, sorted for stable output."""
    blocks = []
    for name, (kind, level) in sorted(principals.items()):
        key = "service_principal_name" if kind == "service_principal" else "group_name"
        blocks.append(PermissionsAccessControl(**{key: name}, permission_level=level))
    return blocks


def object_permissions(
    scope: Construct, id_: str, principals: Mapping[str, tuple[str, str]], **target: Unpack[PermissionsTarget]
) -> Permissions | None:
    """Permissions on one object, or nothing when nobody is granted anything."""
    if not principals:
        return None
    return Permissions(scope, id_, access_control=access_control(principals), **target)
