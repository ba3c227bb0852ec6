"""Who may do what: UC grants, object permissions, job identities, secret ACLs, admins."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from infra.guardrails.params import EnvParams, normalize_privilege
from infra.guardrails.rules import Violation, is_prod, rule
from infra.guardrails.rules.compute import is_gpu_policy
from infra.guardrails.stack import (
    GROUP_TYPES,
    SP_TYPES,
    USER_TYPES,
    Principal,
    StackIndex,
    as_bool,
    blocks,
    is_interpolation,
    listing,
)
from infra.tfdoc import Resource

SECURABLES = (
    "metastore",
    "catalog",
    "schema",
    "table",
    "volume",
    "model",
    "function",
    "storage_credential",
    "external_location",
    "share",
    "foreign_connection",
    "credential",
)
OWNED_TYPES = (
    "databricks_catalog",
    "databricks_schema",
    "databricks_registered_model",
    "databricks_volume",
    "databricks_external_location",
    "databricks_storage_credential",
    "databricks_metastore",
    "databricks_sql_table",
)
BROAD_PRIVILEGES = frozenset({"ALL_PRIVILEGES", "MANAGE"})
BROAD_LEVELS = frozenset({"IS_OWNER", "CAN_MANAGE"})
PRINCIPAL_KEYS = {"group_name": "group", "service_principal_name": "service_principal", "user_name": "user"}


@dataclass(frozen=True, slots=True)
class Grant:
    resource: Resource
    securable: str  # e.g. "catalog"
    target: Any  # the securable's name or reference
    principal: Principal
    privileges: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.principal} holds {list(self.privileges)} on {self.securable} {self.target!r}"


def grants(index: StackIndex) -> list[Grant]:
    """Every UC grant, from ``databricks_grants`` (blocks) and ``databricks_grant`` (one principal)."""
    return index.memo("grants", lambda: list(_grants(index)))


def _grants(index: StackIndex) -> Iterator[Grant]:
    for res in index.of("databricks_grants", "databricks_grant"):
        securable = next((s for s in SECURABLES if res.values.get(s) is not None), "unknown")
        target = index.resolve(res.values.get(securable))
        entries = blocks(res.values, "grant") if res.type == "databricks_grants" else [res.values]
        for entry in entries:
            privileges = tuple(normalize_privilege(str(p)) for p in listing(entry.get("privileges")))
            yield Grant(res, securable, target, index.principal(entry.get("principal")), privileges)


@dataclass(frozen=True, slots=True)
class Access:
    resource: Resource
    principal: Principal
    level: str


def permissions(index: StackIndex, target_key: str | None = None) -> Iterator[Access]:
    for res in index.of("databricks_permissions"):
        if target_key and res.values.get(target_key) is None:
            continue
        for entry in blocks(res.values, "access_control"):
            for key, kind in PRINCIPAL_KEYS.items():
                if entry.get(key):
                    level = str(entry.get("permission_level", ""))
                    yield Access(res, index.principal(entry[key], kind), level)


@rule("DBX002", "prod_workspace_envs")
def no_broad_privileges(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    prod = is_prod(index, params)
    for grant in grants(index):
        broad = BROAD_PRIVILEGES & set(grant.privileges)
        if grant.principal.is_broad and broad:
            yield Violation(grant.resource, f"{grant.describe()}: {sorted(broad)} to everyone")
        elif grant.principal.is_broad and prod and grant.privileges:
            yield Violation(
                grant.resource,
                f"{grant.describe()}: everyone in the account may read production data "
                f"({index.env} is in prod_workspace_envs); grant named groups",
            )
        elif grant.principal.kind == "user":
            yield Violation(grant.resource, f"{grant.describe()}: grants go to groups or service principals")
    for access in permissions(index):
        if access.principal.is_broad and access.level in BROAD_LEVELS:
            yield Violation(access.resource, f"{access.principal} has {access.level}")
        elif access.principal.kind == "user":
            yield Violation(
                access.resource, f"{access.principal} has {access.level}: use a group or service principal"
            )
    for res in index.of(*OWNED_TYPES):
        owner = res.values.get("owner")
        if owner is None:
            continue
        principal = index.principal(owner)
        if principal.is_broad or principal.kind == "user":
            yield Violation(res, f"owner is {principal}: ownership belongs to a group")


def _is_sp(principal: Principal) -> bool:
    return principal.kind == "service_principal"


@rule("DBX008")
def job_identity(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    access_by_job: dict[str, list[Access]] = {}
    for access in permissions(index, "job_id"):
        job, _ = index.target(access.resource.values.get("job_id"))
        access_by_job.setdefault(job.address if job else "?", []).append(access)
    for job in index.of("databricks_job"):
        run_as = (blocks(job.values, "run_as") or [{}])[0]
        if run_as.get("user_name"):
            yield Violation(
                job, f"run_as user {run_as['user_name']!r}; jobs outside dev run as a service principal"
            )
        elif not run_as.get("service_principal_name"):
            yield Violation(job, "no run_as: the job runs as whoever deployed it")
        elif not _is_sp(index.principal(run_as["service_principal_name"], None)):
            principal = index.principal(run_as["service_principal_name"], None)
            yield Violation(
                job, f"run_as.service_principal_name resolves to {principal}, not a service principal"
            )
        accesses = access_by_job.get(job.address, [])
        for access in accesses:
            if access.level == "IS_OWNER" and access.principal.kind not in ("group", "service_principal"):
                yield Violation(access.resource, f"{job.address} is owned by {access.principal}")
        if not any(a.principal.kind == "group" and a.level in BROAD_LEVELS for a in accesses):
            yield Violation(job, "no group holds CAN_MANAGE (or IS_OWNER): ownership falls to one identity")


@rule("DBX009", "platform_group", "secret_read_groups")
def secret_acls(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for scope in index.of("databricks_secret_scope"):
        initial = scope.values.get("initial_manage_principal")
        if initial not in (None, ""):
            # The API accepts only "users": MANAGE on the scope for every user of the workspace.
            yield Violation(
                scope,
                f"initial_manage_principal {initial!r} gives every workspace user MANAGE on the scope; "
                f"only {params.platform_group!r} may manage it (a databricks_secret_acl)",
            )
    for acl in index.of("databricks_secret_acl"):
        principal = index.principal(acl.values.get("principal"))
        permission = str(acl.values.get("permission", "")).upper()
        is_platform = principal.kind == "group" and principal.name == params.platform_group
        if permission in ("MANAGE", "WRITE") and not is_platform:
            yield Violation(
                acl,
                f"{principal} has {permission} on scope {acl.values.get('scope')!r}; "
                f"only {params.platform_group!r} may",
            )
        elif permission == "READ" and not (
            is_platform
            or _is_sp(principal)
            or (principal.kind == "group" and principal.name in params.secret_read_groups)
        ):
            yield Violation(
                acl,
                f"{principal} has READ on scope {acl.values.get('scope')!r}; "
                "READ is for job service principals",
            )


@rule("DBX017", "data_scientists_group", "read_privileges")
def data_scientists_read_only(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    group = params.data_scientists_group
    for grant in grants(index):
        if grant.principal.kind != "group" or grant.principal.name != group:
            continue
        writes = [p for p in grant.privileges if p not in params.read_privileges]
        if writes:
            yield Violation(grant.resource, f"{grant.describe()}: write privileges {writes} in {index.env}")
    for res in index.of("databricks_catalog", "databricks_schema"):
        owner = index.principal(res.values.get("owner")) if res.values.get("owner") else None
        if owner is not None and owner.name == group:
            yield Violation(res, f"owned by {owner} in {index.env}")
    for access in permissions(index, "cluster_policy_id"):
        if access.principal.kind != "group" or access.principal.name != group:
            continue
        policy = index.policy_for(access.resource.values.get("cluster_policy_id"))
        kind = "GPU " if policy is not None and is_gpu_policy(index, policy, params) else ""
        name = (
            f"'{policy.name}'" if policy is not None else str(access.resource.values.get("cluster_policy_id"))
        )
        yield Violation(
            access.resource,
            f"{access.principal} has {access.level} on the {kind}cluster policy {name} in {index.env}: "
            "prod compute runs reviewed jobs as service principals, not people's clusters",
            params=("data_scientists_group", "gpu_policy_name_pattern"),
        )


@rule("DBX102", "admin_groups", "privileged_privileges")
def privileged_grants(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    admins = set(params.admin_groups)
    for grant in grants(index):
        is_admin = grant.principal.kind == "group" and grant.principal.name in admins
        privileged = [p for p in grant.privileges if p in params.privileged_privileges]
        if privileged and not is_admin and not _is_sp(grant.principal):
            yield Violation(
                grant.resource, f"{grant.describe()}: {privileged} are reserved for {sorted(admins)}"
            )
        elif grant.securable == "storage_credential" and not is_admin:
            yield Violation(
                grant.resource, f"{grant.describe()}: use an external location instead of the raw credential"
            )
        elif grant.principal.is_broad and "MODIFY" in grant.privileges:
            yield Violation(grant.resource, f"{grant.describe()}: MODIFY to everyone")


def group_names(index: StackIndex) -> set[str]:
    """Display names of the groups this stack creates or looks up."""

    def compute() -> set[str]:
        return {
            str(r.values["display_name"])
            for r in index.all
            if r.type in GROUP_TYPES and r.mode in ("managed", "data") and r.values.get("display_name")
        }

    return index.memo("group_names", compute)


def _metastore_owner_problem(index: StackIndex, params: EnvParams, owner: Any) -> str | None:
    """Why a metastore owner is not an admin group (None: it is one)."""
    if owner in (None, ""):
        return "not set: whoever applies the stack becomes metastore admin"
    target, _ = index.target(owner)
    principal = index.principal(owner)
    if target is not None:
        if principal.kind == "group" and not principal.is_broad:
            return None
        return f"{principal} ({target.address})"
    if is_interpolation(owner):
        return f"{owner!r}, a reference to nothing this stack declares as a group"
    if principal.kind != "group" or principal.is_broad:
        return str(principal)
    if owner not in group_names(index) and owner not in params.admin_groups:
        return (
            f"{owner!r}, neither the display_name of a group in this stack nor one of the admin_groups "
            f"{params.admin_groups}"
        )
    return None


def _admin_problem(index: StackIndex, principal_id: Any) -> str | None:
    """Why a workspace ADMIN assignment does not go to a group or service principal (None: it does)."""
    target, _ = index.target(principal_id)
    if target is None:
        return f"principal_id {principal_id!r} does not reference a group or service principal of this stack"
    if target.type in GROUP_TYPES or target.type in SP_TYPES:
        return None
    if target.type in USER_TYPES:
        return f"user {target.address}"
    return f"{target.address}, neither a group nor a service principal"


@rule("DBX105", "admin_groups")
def admins_are_groups(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for metastore in index.of("databricks_metastore"):
        why = _metastore_owner_problem(index, params, metastore.values.get("owner"))
        if why:
            yield Violation(metastore, f"metastore admin (owner) is {why}; make it an admin group")
    for assignment in index.of("databricks_mws_permission_assignment", "databricks_permission_assignment"):
        if "ADMIN" not in listing(assignment.values.get("permissions")):
            continue
        why = _admin_problem(index, assignment.values.get("principal_id"))
        if why:
            yield Violation(
                assignment, f"workspace ADMIN assigned to {why}; assign it to a group (or an automation SP)"
            )


@rule("DBX108", "gpu_policy_name_pattern", "prod_workspace_envs")
def broad_can_use(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for access in permissions(index):
        if not access.principal.is_broad or access.level != "CAN_USE":
            continue
        values = access.resource.values
        if values.get("authorization") == "tokens":
            yield Violation(access.resource, f"{access.principal} may create personal access tokens")
        policy_ref = values.get("cluster_policy_id")
        if policy_ref is not None:
            policy = index.policy_for(policy_ref)
            if policy is not None and is_gpu_policy(index, policy, params):
                yield Violation(
                    access.resource, f"{access.principal} may start clusters under GPU policy '{policy.name}'"
                )
            elif is_prod(index, params):
                yield Violation(access.resource, f"{access.principal} may use a prod cluster policy")


ENTITLEMENTS = ("allow_cluster_create", "allow_instance_pool_create")
WORKSPACE_ADMINS = "admins"  # the workspace's built-in admin group holds every entitlement anyway
_ENTITLED_PRINCIPALS = (
    ("group_id", "group"),
    ("service_principal_id", "service_principal"),
    ("user_id", "user"),
)


def _entitled(index: StackIndex, res: Resource) -> Principal:
    if res.type == "databricks_entitlements":
        for key, kind in _ENTITLED_PRINCIPALS:
            if res.values.get(key):
                return index.principal(res.values[key], kind)
        return Principal("unknown", res.address)
    return index.principal(f"${{{res.address}.id}}")


@rule("DBX109", "admin_groups")
def cluster_create_entitlements(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    admins = {*params.admin_groups, WORKSPACE_ADMINS}
    types = ("databricks_entitlements", "databricks_group", "databricks_user", "databricks_service_principal")
    for res in index.of(*types):
        granted = [
            e
            for e in ENTITLEMENTS
            if as_bool(res.values.get(e)) is True or is_interpolation(res.values.get(e))
        ]
        if not granted:
            continue
        principal = _entitled(index, res)
        if principal.kind == "group" and principal.name in admins:
            continue
        yield Violation(
            res,
            f"{principal} gets {granted}: unrestricted cluster creation bypasses every cluster policy "
            f"(caps, node types, access modes); only {sorted(admins)} may hold it",
        )
