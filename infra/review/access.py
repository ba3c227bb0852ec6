"""Who can do what: (principal, securable, privilege) tuples of one environment.

Sources: Unity Catalog grants (``databricks_grants`` / ``databricks_grant``), securable owners,
object permissions (``databricks_permissions``), secret ACLs, entitlements and admin membership.
Gained = head - base, lost = base - head; an escalation is flagged with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from infra.guardrails.rules.access import SECURABLES as _GRANT_SECURABLES  # one list of grant securables
from infra.review.resources import UNKNOWN_PRINCIPAL, Res, Side

# databricks_permissions: the key that names the object, the kind shown in the table, and the
# resource type behind it (a plan holds the object's id, resolved back to its name through it).
_PERMISSION_OBJECTS = {
    "cluster_policy_id": ("cluster policy", "databricks_cluster_policy"),
    "cluster_id": ("cluster", "databricks_cluster"),
    "instance_pool_id": ("instance pool", "databricks_instance_pool"),
    "job_id": ("job", "databricks_job"),
    "pipeline_id": ("pipeline", "databricks_pipeline"),
    "experiment_id": ("experiment", "databricks_mlflow_experiment"),
    "registered_model_id": ("model (workspace)", "databricks_mlflow_model"),
    "serving_endpoint_id": ("serving endpoint", "databricks_model_serving"),
    "directory_path": ("folder", "databricks_directory"),
    "directory_id": ("folder", "databricks_directory"),
    "notebook_path": ("notebook", "databricks_notebook"),
    "notebook_id": ("notebook", "databricks_notebook"),
    "workspace_file_path": ("file", "databricks_workspace_file"),
    "sql_endpoint_id": ("SQL warehouse", "databricks_sql_endpoint"),
    "warehouse_id": ("SQL warehouse", "databricks_sql_endpoint"),
    "sql_dashboard_id": ("dashboard", "databricks_sql_dashboard"),
    "dashboard_id": ("dashboard", "databricks_dashboard"),
    "sql_query_id": ("query", "databricks_query"),
    "sql_alert_id": ("alert", "databricks_alert"),
    "authorization": ("authorization", ""),
    "app_name": ("app", "databricks_app"),
    "vector_search_endpoint_id": ("vector search endpoint", "databricks_vector_search_endpoint"),
}
# A grant's securable key -> the resource type whose id it holds (a plan: the metastore's UUID).
_GRANT_TYPES = {"model": "databricks_registered_model", "foreign_connection": "databricks_connection"}
_OWNED = {
    "databricks_catalog": "catalog",
    "databricks_schema": "schema",
    "databricks_volume": "volume",
    "databricks_registered_model": "model",
    "databricks_sql_table": "table",
    "databricks_external_location": "external location",
    "databricks_storage_credential": "storage credential",
}
_ENTITLEMENTS = (
    "allow_cluster_create",
    "allow_instance_pool_create",
    "databricks_sql_access",
    "workspace_access",
    "workspace_consume",
)

WRITE_PRIVILEGES = frozenset(
    {
        "MODIFY",
        "WRITE_VOLUME",
        "WRITE_FILES",
        "ALL_PRIVILEGES",
        "ALL PRIVILEGES",
        "MANAGE",
        "APPLY_TAG",
        "OWNER",
        "CAN_EDIT",
        "CAN_MANAGE",
        "CAN_MANAGE_RUN",
        "CAN_RESTART",
        "IS_OWNER",
        "WRITE",
        "allow_cluster_create",
        "allow_instance_pool_create",
        "ADMIN",
    }
)
MANAGE_PRIVILEGES = frozenset(
    {"MANAGE", "CAN_MANAGE", "IS_OWNER", "OWNER", "ALL_PRIVILEGES", "ALL PRIVILEGES"}
)
ADMIN_GROUPS = frozenset({"admins", "account admins"})


@dataclass(frozen=True, slots=True, order=True)
class Access:
    principal: str
    principal_kind: str
    securable: str  # "<kind> <name>", e.g. "schema mlops_prod.features"
    privilege: str
    source: str  # the Terraform address that grants it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.principal, self.securable, self.privilege)


@dataclass(frozen=True, slots=True)
class AccessChange:
    env: str
    change: str  # gained | lost
    principal: str
    principal_kind: str
    securable: str
    privilege: str
    source: str
    escalation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_write(privilege: str) -> bool:
    return privilege in WRITE_PRIVILEGES or privilege.startswith("CREATE")


def _kind(securable: str) -> str:
    for kind in (*(k for k, _ in _PERMISSION_OBJECTS.values()), "secret scope", *_OWNED.values()):
        if securable.startswith(kind + " "):
            return kind
    return securable.split(" ", 1)[0]


def escalation(
    env: str, access: Access, held: set[tuple[str, str, str]], prod_envs: tuple[str, ...]
) -> str | None:
    """Why gaining this access needs a security review, or None.

    ``held`` is what the base already had as (principal, securable kind, privilege): the deployer
    getting CAN_MANAGE on a new job exactly like on every other job is routine; a principal holding
    a write or manage privilege on a kind of securable for the first time is not.
    """
    if access.privilege == "ADMIN" or access.securable in {f"group {g}" for g in ADMIN_GROUPS}:
        return "new admin"
    if (access.principal, _kind(access.securable), access.privilege) in held:
        return None
    if access.privilege in MANAGE_PRIVILEGES:
        return f"new {access.privilege}"
    if env in prod_envs and _is_write(access.privilege):
        return f"write on {env}"  # a production environment (the shipped one is prod)
    return None


def _grants(side: Side, res: Res) -> Iterator[Access]:
    values = res.values
    kind = next((k for k in _GRANT_SECURABLES if values.get(k) not in (None, "")), None)
    if kind is None:
        return
    rtype = _GRANT_TYPES.get(kind, f"databricks_{kind}")
    securable = f"{kind} {side.label(values[kind], (rtype,))}"
    if res.type == "databricks_grant":
        entries = [{"principal": values.get("principal"), "privileges": values.get("privileges", [])}]
    else:
        entries = _blocks(values.get("grant"))
    for entry in entries:
        principal = entry.get("principal")
        for privilege in entry.get("privileges") or []:
            yield Access(
                side.label(principal),
                side.principal_kind(principal),
                securable,
                str(privilege).upper(),
                res.address,
            )


def _blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value or [] if isinstance(v, dict)]


def _permissions(side: Side, res: Res) -> Iterator[Access]:
    key = next((k for k in _PERMISSION_OBJECTS if res.values.get(k) not in (None, "")), None)
    securable = res.address
    if key:
        kind, rtype = _PERMISSION_OBJECTS[key]
        securable = f"{kind} {side.label(res.values[key], (rtype,))}"
    for entry in _blocks(res.values.get("access_control")):
        for attr in ("group_name", "user_name", "service_principal_name"):
            if entry.get(attr):
                yield Access(
                    side.label(entry[attr]),
                    side.principal_kind(entry[attr], attr),
                    securable,
                    str(entry.get("permission_level")),
                    res.address,
                )


def _principal_of(side: Side, values: dict[str, Any]) -> tuple[str, str]:
    for attr in ("group_id", "service_principal_id", "user_id", "principal_id"):
        if values.get(attr):
            return side.label(values[attr]), side.principal_kind(values[attr], attr)
    return "?", UNKNOWN_PRINCIPAL


def accesses(side: Side) -> list[Access]:
    """Every (principal, securable, privilege) the environment's resources grant."""
    out: list[Access] = []
    for res in side.resources.values():
        v = res.values
        if res.type in ("databricks_grants", "databricks_grant"):
            out.extend(_grants(side, res))
        elif res.type == "databricks_permissions":
            out.extend(_permissions(side, res))
        elif res.type == "databricks_secret_acl":
            principal = v.get("principal")
            out.append(
                Access(
                    side.label(principal),
                    side.principal_kind(principal),
                    f"secret scope {side.label(v.get('scope'))}",
                    str(v.get("permission")),
                    res.address,
                )
            )
        elif res.type == "databricks_entitlements":
            principal, kind = _principal_of(side, v)
            out.extend(
                Access(principal, kind, "workspace", e, res.address) for e in _ENTITLEMENTS if v.get(e)
            )
        elif res.type in _OWNED and v.get("owner"):
            owner = v["owner"]
            out.append(
                Access(
                    side.label(owner),
                    side.principal_kind(owner),
                    f"{_OWNED[res.type]} {side.display(res)}",
                    "OWNER",
                    res.address,
                )
            )
        elif res.type == "databricks_group_member":
            group = side.label(v.get("group_id"))
            member = v.get("member_id")
            out.append(
                Access(
                    side.label(member),
                    side.principal_kind(member, "member_id"),
                    f"group {group}",
                    "MEMBER",
                    res.address,
                )
            )
        elif res.type in ("databricks_mws_permission_assignment", "databricks_permission_assignment"):
            principal = v.get("principal_id")
            out.extend(
                Access(
                    side.label(principal),
                    side.principal_kind(principal, "principal_id"),
                    "workspace",
                    str(p),
                    res.address,
                )
                for p in v.get("permissions") or []
            )
        elif res.type in (
            "databricks_service_principal_role",
            "databricks_user_role",
            "databricks_group_role",
        ):
            principal_attr = next(
                (a for a in ("service_principal_id", "user_id", "group_id") if v.get(a)), None
            )
            principal = v.get(principal_attr) if principal_attr else None
            role = str(v.get("role"))
            privilege = "ADMIN" if role.endswith("account_admin") else role
            out.append(
                Access(
                    side.label(principal),
                    side.principal_kind(principal, principal_attr),
                    "account",
                    privilege,
                    res.address,
                )
            )
    return sorted(set(out))


def access_changes(env: str, base: Side, head: Side, prod_envs: tuple[str, ...]) -> list[AccessChange]:
    before = {a.key: a for a in accesses(base)}
    after = {a.key: a for a in accesses(head)}
    held = {(a.principal, _kind(a.securable), a.privilege) for a in before.values()}
    out = [
        AccessChange(
            env,
            "gained",
            a.principal,
            a.principal_kind,
            a.securable,
            a.privilege,
            a.source,
            escalation(env, a, held, prod_envs),
        )
        for k, a in after.items()
        if k not in before
    ]
    out += [
        AccessChange(env, "lost", a.principal, a.principal_kind, a.securable, a.privilege, a.source)
        for k, a in before.items()
        if k not in after
    ]
    return sorted(out, key=lambda c: (c.escalation is None, c.change, c.principal, c.securable, c.privilege))
