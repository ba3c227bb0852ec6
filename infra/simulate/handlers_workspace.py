"""Workspace objects: lookups, settings, policies, folders, experiments, ACLs, secrets, jobs, endpoints."""

from __future__ import annotations

import posixpath
from typing import Any

from infra.simulate.engine import ApplyContext, handles
from infra.simulate.handlers_uc import _name_of
from infra.simulate.world import Acl, Key, Securable, Workspace, WorkspaceObject
from infra.tfdoc import block, blocks

SHARED = "/Shared"
# databricks_permissions: the key naming the object -> (object kind in the world, IS_OWNER supported).
PERMISSION_TARGETS = {
    "job_id": ("job", True),
    "cluster_policy_id": ("cluster_policy", False),
    "directory_path": ("directory", False),
    "directory_id": ("directory", False),
    "experiment_id": ("experiment", False),
    "serving_endpoint_id": ("serving_endpoint", False),
    "sql_endpoint_id": ("sql_warehouse", True),
    "dashboard_id": ("dashboard", False),
    "alert_v2_id": ("alert", False),
}
# Targets whose ACL update first adds the applying identity as CAN_MANAGE when the ACL does not name it
# (updateAclCustomizers: update.AddCurrentUserAsManage, permissions/permission_definitions.go).
ADDS_CURRENT_USER_AS_MANAGE = frozenset({"sql_endpoint_id", "serving_endpoint_id", "alert_v2_id"})
# Management levels per target (isManagementPermission): the provider refuses an ACL that gives the
# applying identity any other level ("cannot remove management permissions for the current user").
MANAGEMENT_LEVELS = {
    "job_id": frozenset({"CAN_MANAGE", "IS_OWNER"}),
    "cluster_policy_id": frozenset({"CAN_USE"}),
    "sql_endpoint_id": frozenset({"CAN_MANAGE", "IS_OWNER"}),
}
MANAGE_LEVELS = frozenset({"CAN_MANAGE", "IS_OWNER"})


@handles("data", "databricks_group", "databricks_service_principal")
def lookup(ctx: ApplyContext) -> None:
    key = ctx._principal_of(ctx.stack, ctx.res, None)
    kind = "group" if ctx.res.type == "databricks_group" else "service principal"
    operation = f"look up {kind} {key.name if key else '?'}"
    if ctx.account_level:
        ctx.existing_principal(key, operation)
        return
    ws = ctx.acting_workspace(operation)
    if key is None or ws is None:
        return
    if not ctx.existing_principal(key, operation):
        return
    if ctx.workspace_level(ws, key) is None:
        ctx.fail("SIM036", operation, f"{key} is not assigned to workspace {ws.env or ws.id}")


@handles("managed", "databricks_workspace_conf", "databricks_ip_access_list", "databricks_entitlements")
def admin_setting(ctx: ApplyContext) -> None:
    ctx.require_workspace_admin(f"set {ctx.res.type.removeprefix('databricks_')}")


@handles("managed", "databricks_cluster_policy")
def cluster_policy(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("name")) or ctx.res.address
    ws = ctx.require_workspace_admin(f"create cluster policy {name}")
    if ws is not None:
        _add(ctx, ws, "cluster_policy", name)


def _add(ctx: ApplyContext, ws: Workspace, kind: str, name: str, **settings: object) -> WorkspaceObject:
    obj = WorkspaceObject(kind, name, ctx.identity, ctx.origin, Acl(), dict(settings))
    ws.objects[(kind, name)] = obj
    ws.objects[(kind, f"{ctx.stack.name}:{ctx.res.address}")] = obj
    return obj


@handles("managed", "databricks_directory")
def directory(ctx: ApplyContext) -> None:
    if (acting := ctx.acting_on("create folder", ctx.known(ctx.value("path")))) is None:
        return
    ws, path, operation = acting
    # MkdirsByPath creates missing parents; a new top-level folder needs a workspace admin.
    top = "/" + path.strip("/").split("/")[0]
    new_top = top not in (SHARED, "/Users", "/Repos") and ws.obj("directory", top) is None
    if new_top and ctx.workspace_level(ws) != "ADMIN":
        ctx.fail("SIM003", operation, "only workspace admins create folders in the workspace root")
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        sub = "/" + "/".join(parts[:i])
        if ws.obj("directory", sub) is None:
            _add(ctx, ws, "directory", sub)


@handles("managed", "databricks_mlflow_experiment")
def experiment(ctx: ApplyContext) -> None:
    if (acting := ctx.acting_on("create experiment", ctx.known(ctx.value("name")))) is None:
        return
    ws, name, operation = acting
    parent = posixpath.dirname(name)
    folder = ws.obj("directory", parent)
    if folder is None and parent not in ("/", SHARED):
        ctx.need("SIM030", operation, "workspace object directory", parent)
    elif folder is not None:
        ctx._unordered(folder.origin, f"folder {parent}", operation)
    if ctx.value("description") is not None:
        ctx.fail(
            "SIM030", operation, "description is set, but the API never accepts it (a diff on every plan)"
        )
    _add(ctx, ws, "experiment", name)


@handles("managed", "databricks_secret_scope")
def secret_scope(ctx: ApplyContext) -> None:
    if (acting := ctx.acting_on("create secret scope", ctx.known(ctx.value("name")))) is not None:
        ws, name, _ = acting
        obj = _add(ctx, ws, "secret_scope", name)
        obj.acl.entries[ctx.identity] = ("MANAGE", ctx.origin)


@handles("managed", "databricks_secret_acl")
def secret_acl(ctx: ApplyContext) -> None:
    if (acting := ctx.acting_on("set secret ACL on", ctx.known(ctx.value("scope")))) is None:
        return
    ws, scope_name, operation = acting
    scope = ws.obj("secret_scope", scope_name)
    if scope is None:
        ctx.need("SIM001", operation, "workspace object secret_scope", scope_name)
        return
    if ctx._unordered(scope.origin, f"secret scope {scope_name!r}", operation):
        return
    if acl_level(ctx, scope, ctx.identity) != "MANAGE" and ctx.workspace_level(ws) != "ADMIN":
        ctx.fail("SIM035", operation, f"no MANAGE on secret scope {scope_name}")
    who = ctx.principal(ctx.value("principal"))
    if ctx.existing_principal(who, operation):
        assert who is not None
        scope.acl.entries[who] = (str(ctx.value("permission")), ctx.origin)


def acl_level(ctx: ApplyContext, obj: WorkspaceObject, key: Key) -> str | None:
    """The highest ACL level ``key`` holds on ``obj``, directly or through a group (visible entries only)."""
    order = ["CAN_VIEW", "CAN_READ", "READ", "CAN_QUERY", "CAN_USE", "CAN_RUN", "CAN_EDIT", "WRITE",
             "CAN_MANAGE_RUN", "CAN_MANAGE", "MANAGE", "IS_OWNER"]  # fmt: skip
    best: str | None = None
    for who in {key, *ctx.groups_of(key)}:
        level, origin = obj.acl.entries.get(who, (None, None))
        if level and ctx.sees(origin) and (best is None or order.index(level) > order.index(best)):
            best = level
    return best


@handles("managed", "databricks_permissions")
def permissions(ctx: ApplyContext) -> None:
    target = next((k for k in PERMISSION_TARGETS if ctx.value(k) is not None), None)
    if target is None:
        return
    kind, has_owner = PERMISSION_TARGETS[target]
    operation = f"set permissions on {kind}"
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return
    obj = _object(ctx, ws, kind, ctx.value(target), operation)
    if obj is None:
        return
    operation = f"set permissions on {kind} {obj.name}"
    if kind == "directory" and (obj.name == SHARED or obj.name.startswith(SHARED + "/")):
        ctx.fail("SIM031", operation, "all users hold CAN_MANAGE under /Shared: this ACL restricts nothing")
    manages = ctx.is_or_in(ctx.identity, obj.owner) or acl_level(ctx, obj, ctx.identity) in MANAGE_LEVELS
    if not manages and ctx.workspace_level(ws) != "ADMIN":
        ctx.fail("SIM032", operation, "no CAN_MANAGE on it and not a workspace admin")
    entries: dict[Key, str] = {}
    for ac in blocks(ctx.res.values, "access_control"):
        hint = next((k for k in ("group_name", "service_principal_name", "user_name") if ac.get(k)), None)
        if hint is None:
            continue
        who = ctx.principal(ac[hint], hint)
        if not ctx.existing_principal(who, operation):
            continue
        assert who is not None
        level = str(ac.get("permission_level"))
        if who in entries and entries[who] != level:
            ctx.fail("SIM032", operation, f"{who} is listed with {entries[who]} and {level}: ambiguous")
        entries[who] = level
    mine = entries.get(ctx.identity)
    if mine is not None and mine not in MANAGEMENT_LEVELS.get(target, frozenset({"CAN_MANAGE"})):
        why = f"{ctx.identity} gives itself {mine}: the provider refuses to drop its own management"
        ctx.fail("SIM032", operation, why)
    if target in ADDS_CURRENT_USER_AS_MANAGE and ctx.identity not in entries:
        entries[ctx.identity] = "CAN_MANAGE"
    if has_owner and "IS_OWNER" not in entries.values():
        # addOwnerPermissionIfNeeded: the applying identity becomes IS_OWNER.
        if ctx.identity in entries and entries[ctx.identity] != "IS_OWNER":
            ctx.fail(
                "SIM032",
                operation,
                f"no IS_OWNER given, so the provider adds IS_OWNER for {ctx.identity}, which the ACL already "
                f"lists with {entries[ctx.identity]}: the backend rejects the set as ambiguous",
            )
        entries[ctx.identity] = "IS_OWNER"
    obj.acl = Acl({k: (v, ctx.origin) for k, v in entries.items()})
    if "IS_OWNER" in entries.values():
        obj.owner = next(k for k, v in entries.items() if v == "IS_OWNER")


def _object(
    ctx: ApplyContext, ws: Workspace, kind: str, value: object, operation: str
) -> WorkspaceObject | None:
    found = ctx.follow(value)
    if found is not None:
        obj = ws.obj(kind, f"{found[0].name}:{found[1].address}")
    else:
        name = ctx.known(value)
        obj = ws.obj(kind, name) if name else None
        if obj is None and name is not None:
            ctx.need("SIM001", operation, f"workspace object {kind}", name)
            return None
    if obj is None:
        ctx.fail("SIM001", operation, f"no {kind} {value!r}")
        return None
    if ctx._unordered(obj.origin, f"{kind} {obj.name!r}", operation):
        return None
    return obj


@handles("managed", "databricks_job")
def job(ctx: ApplyContext) -> None:
    if (acting := ctx.acting_on("create job", ctx.known(ctx.value("name")) or ctx.res.address)) is None:
        return
    ws, name, operation = acting
    runner = run_as_identity(ctx, block(ctx.res.values, "run_as"), operation)
    for task in blocks(ctx.res.values, "task"):
        for lib in blocks(task, "library"):
            _library_exists(ctx, lib.get("whl"), operation)
    _webhooks_exist(ctx, ws, operation)
    _add(ctx, ws, "job", name, run_as=runner, values=ctx.res.values, stack=ctx.stack.name)


def run_as_identity(ctx: ApplyContext, run_as: dict[str, Any], operation: str) -> Key | None:
    """Who a ``run_as`` block names; a service principal needs the servicePrincipal.user role (SIM033)."""
    runner: Key | None = None
    if run_as.get("service_principal_name"):
        runner = ctx.principal(run_as["service_principal_name"], "service_principal_name")
        if ctx.existing_principal(runner, f"{operation} with run_as"):
            assert runner is not None
            users = ctx.world.sp_roles.get(runner, {}).get("roles/servicePrincipal.user", {})
            if not any(
                (k == ctx.identity or k in ctx.groups_of(ctx.identity)) and ctx.sees(o)
                for k, o in users.items()
            ):
                ctx.fail(
                    "SIM033",
                    f"{operation} with run_as {runner}",
                    f"no servicePrincipal.user role on {runner}",
                )
    elif run_as.get("user_name"):
        runner = Key("user", str(run_as["user_name"]))
    return runner


def _webhooks_exist(ctx: ApplyContext, ws: Workspace, operation: str) -> None:
    """Webhook notifications name notification destinations that exist (and are created first)."""
    hooks = block(ctx.res.values, "webhook_notifications")
    for event in sorted(hooks):
        for hook in blocks(hooks, event):
            _object(ctx, ws, "notification_destination", hook.get("id"), f"{operation}: webhook {event}")


def _library_exists(ctx: ApplyContext, path: object, operation: str) -> None:
    """A wheel a task installs, uploaded by a databricks_file of this stack, must be ordered first."""
    literal = ctx.known(path)
    if literal is None:
        return
    for res in ctx.stack.index.of("databricks_file"):
        if ctx.known(res.values.get("path")) == literal and res.address not in ctx.stack.index.ancestors(
            ctx.res.address
        ):
            ctx.fail(
                "SIM001",
                operation,
                f"library {literal} is uploaded by {res.address}, but nothing orders the upload first",
            )


@handles("managed", "databricks_model_serving")
def serving_endpoint(ctx: ApplyContext) -> None:
    acting = ctx.acting_on("create serving endpoint", ctx.known(ctx.value("name")) or ctx.res.address)
    if acting is None:
        return
    ws, name, operation = acting
    table = block(block(ctx.res.values, "ai_gateway"), "inference_table_config") or block(
        block(ctx.res.values, "config"), "auto_capture_config"
    )
    if table and table.get("enabled") not in (False, "false"):
        catalog_name = _name_of(ctx, "catalog", table.get("catalog_name"))
        found = ctx.follow(table.get("schema_name"))
        schema_name = (
            _name_of(ctx, "schema", table.get("schema_name"))
            if found is not None and found[1].type == "databricks_schema"
            else f"{catalog_name}.{ctx.known(table.get('schema_name'))}"
        )
        sch = ctx.securable("schema", schema_name, f"{operation}: inference table in {schema_name}")
        if sch is not None:
            missing = ctx.can_use_path(sch) or (
                None if ctx.has(sch, "CREATE_TABLE") else f"CREATE_TABLE on {sch.name}"
            )
            if missing:
                ctx.fail("SIM022", f"{operation}: inference table in {sch.name}", missing)
            prefix = ctx.known(table.get("table_name_prefix"))
            if prefix:  # the endpoint's creator owns the table the endpoint logs to (SIM022)
                payload = f"{sch.name}.{prefix}_payload"
                ctx.world.securables[("table", payload)] = Securable(
                    "table", payload, ctx.identity, parent=sch.name, origin=ctx.origin
                )
    obj = _add(ctx, ws, "serving_endpoint", name)
    obj.acl.entries[ctx.identity] = ("CAN_MANAGE", ctx.origin)
