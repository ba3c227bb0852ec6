"""Account-level resources: workspaces, metastores, account identities, roles and storage credentials."""

from __future__ import annotations

import re

from infra.simulate.engine import ApplyContext, handles
from infra.simulate.world import GROUP, SP, Grant, Key, Principal, Securable, Workspace
from infra.tfdoc import blocks

WORKSPACE_OUTPUT = re.compile(r"^workspace-url-(?P<env>[a-z][a-z0-9_-]*)$")
SP_RULE_SET = re.compile(r"^accounts/[^/]+/servicePrincipals/(?P<app>[^/]+)/ruleSets/default$")
WORKSPACE_CONFIGURATION_TYPES = (
    "databricks_mws_credentials",
    "databricks_mws_storage_configurations",
    "databricks_mws_networks",
    "databricks_mws_vpc_endpoint",
    "databricks_mws_private_access_settings",
    "databricks_mws_customer_managed_keys",
)


@handles("managed", *WORKSPACE_CONFIGURATION_TYPES)
def workspace_configuration(ctx: ApplyContext) -> None:
    ctx.require_account_admin(f"create {ctx.res.type}")


@handles("managed", "databricks_mws_workspaces")
def mws_workspace(ctx: ApplyContext) -> None:
    ctx.require_account_admin("create workspace")
    env = _workspace_env(ctx)
    rid = f"{ctx.stack.name}:{ctx.res.address}"
    ctx.world.workspaces[rid] = Workspace(rid, env, ctx.origin, aliases={rid})


def _workspace_env(ctx: ApplyContext) -> str | None:
    """The environment whose ``workspace-url-<env>`` output reads this workspace (the account "
    "stack's contract)."""
    for output in ctx.stack.index.outputs:
        match = WORKSPACE_OUTPUT.match(output.name)
        found = ctx.follow(output.values.get("value"))
        if match and found is not None and found[1].address == ctx.res.address:
            return match.group("env")
    return None


@handles("managed", "databricks_metastore")
def metastore(ctx: ApplyContext) -> None:
    ctx.require_account_admin("create metastore")
    name = ctx.known(ctx.value("name")) or ctx.res.address
    owner = ctx.principal(ctx.value("owner"))
    sec = Securable(
        "metastore", name, ctx.identity, origin=ctx.origin, storage_root=ctx.known(ctx.value("storage_root"))
    )
    ctx.world.securables[("metastore", name)] = sec
    ctx.world.securables[("metastore", f"{ctx.stack.name}:{ctx.res.address}")] = sec
    # The creator is the first metastore admin; the provider then hands ownership over (SIM017).
    if ctx.value("owner") is not None and ctx.existing_principal(owner, "set metastore owner", uc=True):
        sec.owner = owner


def metastore_for(ctx: ApplyContext, value: object, operation: str) -> Securable | None:
    """The metastore a ``metastore_id`` value names: a reference to one created here, or an existing id."""
    found = ctx.follow(value)
    if found is not None and found[1].type == "databricks_metastore":
        return ctx.securable("metastore", f"{found[0].name}:{found[1].address}", operation)
    name = ctx.known(value)
    return ctx.securable("metastore", name, operation, rule="SIM005") if name else None


def workspace_for(ctx: ApplyContext, value: object, operation: str) -> Workspace | None:
    found = ctx.follow(value)
    if found is not None and found[1].type == "databricks_mws_workspaces":
        ws = ctx.world.find_workspace(f"{found[0].name}:{found[1].address}")
    else:
        token = str(int(value)) if isinstance(value, int | float) else ctx.known(value)
        ws = ctx.world.find_workspace(token) if token else None
    if ws is None:
        ctx.fail("SIM001", operation, f"no workspace {value!r}")
        return None
    if not ctx.sees(ws.origin):
        ctx.fail("SIM001", operation, f"workspace created by {ws.origin}, but nothing orders it first")
        return None
    return ws


@handles("managed", "databricks_metastore_assignment")
def metastore_assignment(ctx: ApplyContext) -> None:
    ctx.require_account_admin("assign metastore")
    ms = metastore_for(ctx, ctx.value("metastore_id"), "assign metastore")
    ws = workspace_for(ctx, ctx.value("workspace_id"), "assign metastore")
    if ms is not None and ws is not None:
        ws.metastore, ws.metastore_origin = ms.name, ctx.origin


@handles("managed", "databricks_group")
def group(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("display_name"))
    if name is None:
        return
    if ctx.account_level:
        ctx.require_account_admin("create account group")
        ctx.world.principals[Key(GROUP, name)] = Principal(Key(GROUP, name), True, origin=ctx.origin)
    else:
        # Created through the workspace SCIM API: a workspace-local group (SIM005 keeps it out of UC).
        ctx.require_workspace_admin("create workspace group")
        ctx.world.principals[Key(GROUP, name)] = Principal(Key(GROUP, name), False, origin=ctx.origin)


@handles("managed", "databricks_service_principal")
def service_principal(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("display_name"))
    if name is None:
        return
    if ctx.account_level:
        ctx.require_account_admin("create account service principal")
    else:
        ctx.require_workspace_admin("add service principal")
    key = Key(SP, name)
    ctx.world.principals[key] = Principal(key, True, origin=ctx.origin)
    # The creator of a service principal is its manager (docs: roles for managing service principals).
    ctx.world.sp_roles.setdefault(key, {}).setdefault("roles/servicePrincipal.manager", {})[ctx.identity] = (
        ctx.origin
    )


@handles("managed", "databricks_group_member")
def group_member(ctx: ApplyContext) -> None:
    group_key = ctx.principal(ctx.value("group_id"))
    member = ctx.principal(ctx.value("member_id"))
    if ctx.account_level:
        ctx.require_account_admin("add group member")
    else:
        ctx.require_workspace_admin("add group member")
    if ctx.existing_principal(group_key, "add group member") and ctx.existing_principal(
        member, "add group member"
    ):
        assert group_key is not None and member is not None
        ctx.world.members.setdefault(group_key, {})[member] = ctx.origin


@handles("managed", "databricks_mws_permission_assignment")
def permission_assignment(ctx: ApplyContext) -> None:
    ctx.require_account_admin("assign principal to workspace")
    ws = workspace_for(ctx, ctx.value("workspace_id"), "assign principal to workspace")
    who = ctx.principal(ctx.value("principal_id"))
    if ws is None or not ctx.existing_principal(who, "assign principal to workspace"):
        return
    if ws.metastore is None or not ctx.sees(ws.metastore_origin):
        ctx.fail(
            "SIM002",
            "assign principal to workspace",
            f"workspace {ws.env or ws.id} has no identity federation yet",
        )
    levels = ctx.value("permissions") or []
    level = "ADMIN" if "ADMIN" in levels else "USER"
    assert who is not None
    ws.assignments[who] = (level, ctx.origin)


@handles("managed", "databricks_access_control_rule_set")
def rule_set(ctx: ApplyContext) -> None:
    name = ctx.literal(ctx.value("name"))
    sp_key = _rule_set_target(ctx, ctx.value("name"))
    if sp_key is None:
        ctx.fail(
            "SIM034", "set service principal roles", f"cannot tell which service principal {name!r} names"
        )
        return
    managers = ctx.world.sp_roles.get(sp_key, {}).get("roles/servicePrincipal.manager", {})
    is_manager = any(
        ctx.sees(o) for k, o in managers.items() if k == ctx.identity or k in ctx.groups_of(ctx.identity)
    )
    if not (ctx.is_account_admin() or is_manager):
        ctx.fail(
            "SIM034", f"set roles on {sp_key}", "neither an account admin nor its servicePrincipal.manager"
        )
        return
    roles = ctx.world.sp_roles.setdefault(sp_key, {})
    for rule in blocks(ctx.res.values, "grant_rules"):
        role = str(rule.get("role"))
        for principal in rule.get("principals") or []:
            who = ctx.principal(principal)
            if ctx.existing_principal(who, f"grant {role} on {sp_key}"):
                assert who is not None
                roles.setdefault(role, {})[who] = ctx.origin


def _rule_set_target(ctx: ApplyContext, value: object) -> Key | None:
    """The service principal a rule set name designates (``accounts/<id>/servicePrincipals/<app id>/...``)."""
    text = value if isinstance(value, str) else ""
    inner = re.search(r"servicePrincipals/(\$\{[^}]+\}|[^/]+)/ruleSets", text)
    if not inner:
        return None
    return ctx.principal(inner.group(1))


def principal_ref(ctx: ApplyContext, value: object) -> Key | None:
    """``acl_principal_id`` values (``groups/<name>``, ``servicePrincipals/<app id>``) or "
    "references to them."""
    text = ctx.literal(value)
    if isinstance(text, str) and text.startswith("groups/"):
        return Key(GROUP, text.removeprefix("groups/"))
    return ctx.principal(value)


@handles("managed", "databricks_storage_credential")
def storage_credential(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("name"))
    operation = f"create storage credential {name}"
    if ctx.account_level:
        ctx.require_account_admin(operation)
        ms = metastore_for(ctx, ctx.value("metastore_id"), operation)
    else:
        ws = ctx.acting_workspace(operation)
        ms = ctx.securable("metastore", ws.metastore, operation) if ws and ws.metastore else None
        if ms is not None and not (ctx.is_metastore_admin(ms) or ctx.has(ms, "CREATE_STORAGE_CREDENTIAL")):
            ctx.fail(
                "SIM019", operation, f"neither metastore admin nor CREATE_STORAGE_CREDENTIAL on {ms.name}"
            )
            return
    if name is None or ms is None:
        return
    sec = Securable("storage_credential", name, ctx.identity, origin=ctx.origin, metastore=ms.name)
    ctx.world.securables[("storage_credential", name)] = sec
    _transfer_owner(ctx, sec)


def _transfer_owner(ctx: ApplyContext, sec: Securable) -> None:
    """The provider's owner update right after create (SIM017): the creator still owns the object."""
    raw = ctx.value("owner")
    if raw is None:
        return
    owner = ctx.principal(raw)
    if ctx.existing_principal(owner, f"set owner of {sec.type} {sec.name}", uc=True):
        sec.owner = owner


def add_grants(ctx: ApplyContext, sec: Securable, principal: Key, privileges: list[str]) -> None:
    for privilege in privileges:
        sec.grants.append(Grant(principal, str(privilege), ctx.origin))
