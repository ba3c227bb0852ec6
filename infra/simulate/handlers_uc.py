"""Unity Catalog objects created in a workspace: locations, catalogs, schemas, volumes, models, grants."""

from __future__ import annotations

from infra.simulate.engine import ApplyContext, handles
from infra.simulate.handlers_account import _transfer_owner, add_grants
from infra.simulate.world import Securable
from infra.tfdoc import blocks

# databricks_grants / databricks_grant: the key naming the securable -> its type in the world.
GRANT_TARGETS = {
    "metastore": "metastore",
    "catalog": "catalog",
    "schema": "schema",
    "volume": "volume",
    "model": "registered_model",
    "table": "table",
    "storage_credential": "storage_credential",
    "external_location": "external_location",
}


def _workspace_metastore(ctx: ApplyContext, operation: str) -> Securable | None:
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return None
    if ws.metastore is None:
        ctx.fail("SIM001", operation, f"workspace {ws.env or ws.id} has no metastore assigned")
        return None
    return ctx.securable("metastore", ws.metastore, operation)


def _name_of(ctx: ApplyContext, sec_type: str, value: object) -> str | None:
    """A securable's full name from a value: a literal, or a reference whose target's name is known."""
    found = ctx.follow(value)
    if found is not None:
        stack, res, _ = found
        if res.type == "databricks_metastore":
            return f"{stack.name}:{res.address}"
        parts = [ctx.known(res.values.get(k)) for k in _NAME_PARTS.get(res.type, ())]
        if parts and all(parts):
            return ".".join(p for p in parts if p)
    return ctx.known(value)


_NAME_PARTS = {
    "databricks_catalog": ("name",),
    "databricks_schema": ("catalog_name", "name"),
    "databricks_volume": ("catalog_name", "schema_name", "name"),
    "databricks_registered_model": ("catalog_name", "schema_name", "name"),
    "databricks_sql_table": ("catalog_name", "schema_name", "name"),
    "databricks_storage_credential": ("name",),
    "databricks_external_location": ("name",),
}


@handles("managed", "databricks_external_location")
def external_location(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("name"))
    operation = f"create external location {name}"
    ms = _workspace_metastore(ctx, operation)
    credential = ctx.securable(
        "storage_credential", _name_of(ctx, "storage_credential", ctx.value("credential_name")), operation
    )
    if ms is None or credential is None or name is None:
        return
    if not ctx.is_metastore_admin(ms):
        missing = [
            f"CREATE_EXTERNAL_LOCATION on {label}"
            for label, sec in (("the metastore", ms), (f"storage credential {credential.name}", credential))
            if not ctx.has(sec, "CREATE_EXTERNAL_LOCATION")
        ]
        if missing:
            ctx.fail("SIM020", operation, "; ".join(missing))
    url = ctx.known(ctx.value("url"))
    sec = Securable(
        "external_location",
        name,
        ctx.identity,
        origin=ctx.origin,
        storage_root=url,
        credential=credential.name,
    )
    ctx.world.securables[("external_location", name)] = sec
    _transfer_owner(ctx, sec)


@handles("managed", "databricks_catalog")
def catalog(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("name"))
    operation = f"create catalog {name}"
    ms = _workspace_metastore(ctx, operation)
    if ms is None or name is None:
        return
    if not (ctx.is_metastore_admin(ms) or ctx.has(ms, "CREATE_CATALOG")):
        ctx.fail("SIM011", operation, f"neither metastore admin nor CREATE_CATALOG on metastore {ms.name}")
    root = ctx.value("storage_root")
    if root is None and not ms.storage_root:
        ctx.fail("SIM010", operation, f"no storage_root, and metastore {ms.name} has no storage root")
    elif root is not None:
        _managed_location_allowed(ctx, root, operation)
    sec = Securable(
        "catalog", name, ctx.identity, origin=ctx.origin, metastore=ms.name, storage_root=ctx.known(root)
    )
    ctx.world.securables[("catalog", name)] = sec
    ws = ctx.workspace()
    # resource_catalog.go: owner (and isolation mode) are set by an update, then an ISOLATED catalog is
    # bound to the current workspace; the read after create fails for an unbound ISOLATED catalog.
    _transfer_owner(ctx, sec)
    if ctx.known(ctx.value("isolation_mode")) == "ISOLATED":
        sec.isolated = True
        if not (ctx.owns(sec) or ctx.is_metastore_admin(ms)):
            ctx.fail(
                "SIM013",
                f"bind catalog {name} to its workspace",
                f"the owner is now {sec.owner}, which the applying identity is neither nor a member of",
            )
        elif ws is not None:
            sec.bindings.add(ws.id)


def _managed_location_allowed(ctx: ApplyContext, root: object, operation: str) -> bool:
    """SIM012: the storage root lies under an external location the creator may use for managed storage."""
    found = ctx.follow(root)
    url = ctx.known(root)
    location: Securable | None = None
    if found is not None and found[1].type == "databricks_external_location":
        location = ctx.securable("external_location", ctx.known(found[1].values.get("name")), operation)
        if location is None:
            return False
    elif url is not None:
        for sec in ctx.world.securables.values():
            if (
                sec.type == "external_location"
                and sec.storage_root
                and url.startswith(sec.storage_root.rstrip("/"))
            ):
                if ctx._unordered(sec.origin, f"external location {sec.name!r}", operation):
                    return False
                location = sec
                break
    if location is None:
        ctx.fail("SIM012", operation, f"storage_root {url or root!r} is in no external location")
        return False
    if not ctx.has(location, "CREATE_MANAGED_STORAGE") and not ctx.is_metastore_admin(
        ctx.metastore_of(location)
    ):
        ctx.fail("SIM012", operation, f"no CREATE_MANAGED_STORAGE on external location {location.name}")
        return False
    return True


@handles("managed", "databricks_schema")
def schema(ctx: ApplyContext) -> None:
    catalog_name = _name_of(ctx, "catalog", ctx.value("catalog_name"))
    name = ctx.known(ctx.value("name"))
    operation = f"create schema {catalog_name}.{name}"
    ctx.acting_workspace(operation)
    cat = ctx.securable("catalog", catalog_name, operation)
    if cat is None or name is None:
        return
    ms = ctx.metastore_of(cat)
    if not ctx.is_metastore_admin(ms):
        missing = [p for p in ("USE_CATALOG", "CREATE_SCHEMA") if not ctx.has(cat, p)]
        if missing:
            ctx.fail("SIM014", operation, f"{' and '.join(missing)} on catalog {cat.name}")
    sec = Securable("schema", f"{cat.name}.{name}", ctx.identity, parent=cat.name, origin=ctx.origin)
    ctx.world.securables[("schema", sec.name)] = sec
    _transfer_owner(ctx, sec)


def _in_schema(
    ctx: ApplyContext, kind: str, privilege: str, rule: str
) -> tuple[Securable | None, str | None, str]:
    """The parent schema of a new volume/model, once the creator may create in it."""
    schema_name = _schema_name(ctx)
    name = ctx.known(ctx.value("name"))
    operation = f"create {kind} {schema_name}.{name}"
    ctx.acting_workspace(operation)
    parent = ctx.securable("schema", schema_name, operation)
    if parent is None or name is None:
        return None, name, operation
    missing = ctx.can_use_path(parent)
    if missing is None and not ctx.has(parent, privilege):
        missing = f"{privilege} on schema {parent.name}"
    if missing is not None and not ctx.is_metastore_admin(ctx.metastore_of(parent)):
        ctx.fail(rule, operation, missing)
    return parent, name, operation


def _schema_name(ctx: ApplyContext) -> str | None:
    """``catalog.schema`` from ``schema_name`` (a reference to a schema, or a literal) and "
    "``catalog_name``."""
    found = ctx.follow(ctx.value("schema_name"))
    if found is not None and found[1].type == "databricks_schema":
        return _name_of(ctx, "schema", ctx.value("schema_name"))
    catalog_name = _name_of(ctx, "catalog", ctx.value("catalog_name"))
    name = ctx.known(ctx.value("schema_name"))
    return f"{catalog_name}.{name}" if catalog_name and name else None


@handles("managed", "databricks_volume")
def volume(ctx: ApplyContext) -> None:
    parent, name, _ = _in_schema(ctx, "volume", "CREATE_VOLUME", "SIM015")
    if parent is None:
        return
    sec = Securable("volume", f"{parent.name}.{name}", ctx.identity, parent=parent.name, origin=ctx.origin)
    ctx.world.securables[("volume", sec.name)] = sec
    _transfer_owner(ctx, sec)


@handles("managed", "databricks_registered_model")
def registered_model(ctx: ApplyContext) -> None:
    parent, name, _operation = _in_schema(ctx, "registered model", "CREATE_MODEL", "SIM016")
    if parent is None:
        return
    sec = Securable(
        "registered_model", f"{parent.name}.{name}", ctx.identity, parent=parent.name, origin=ctx.origin
    )
    ctx.world.securables[("registered_model", sec.name)] = sec
    _transfer_owner(ctx, sec)
    # common/resource.go reads the model right after create: ownership or EXECUTE (RegisteredModelsAPI.get).
    if not ctx.has(sec, "EXECUTE") and not ctx.is_metastore_admin(ctx.metastore_of(sec)):
        ctx.fail(
            "SIM021", f"read registered model {sec.name} after create", f"owner is {sec.owner}; no EXECUTE"
        )


@handles("managed", "databricks_sql_table")
def sql_table(ctx: ApplyContext) -> None:
    """SIM024: CREATE TABLE as the applying identity, on a warehouse, a cluster or the provider's own."""
    parent, name, operation = _in_schema(ctx, "table", "CREATE_TABLE", "SIM024")
    if parent is None:
        return
    warehouse = ctx.value("warehouse_id")
    if warehouse is not None and ctx.follow(warehouse) is None and ctx.known(warehouse) is None:
        ctx.fail("SIM024", operation, "warehouse_id is neither a reference nor a known id")
    if warehouse is None and ctx.value("cluster_id") is None:
        ws = ctx.workspace()
        if ws is not None and ctx.workspace_level(ws) != "ADMIN":
            ctx.fail(
                "SIM024",
                f"{operation}: create or start the cluster terraform-sql-table to run the DDL",
                f"not a workspace admin of {ws.env or ws.id} (and no warehouse_id or cluster_id given)",
            )
    sec = Securable("table", f"{parent.name}.{name}", ctx.identity, parent=parent.name, origin=ctx.origin)
    ctx.world.securables[("table", sec.name)] = sec
    _transfer_owner(ctx, sec)


@handles("managed", "databricks_grants", "databricks_grant")
def grants(ctx: ApplyContext) -> None:
    target = next(((k, GRANT_TARGETS[k]) for k in GRANT_TARGETS if ctx.value(k) is not None), None)
    if target is None:
        return
    key, sec_type = target
    name = _name_of(ctx, sec_type, ctx.value(key))
    operation = f"grant on {sec_type} {name}"
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return
    sec = ctx.securable(sec_type, name, operation)
    if sec is None:
        return
    if not _may_grant(ctx, sec):
        ctx.fail(
            "SIM018",
            operation,
            f"neither metastore admin, owner of {sec_type} {sec.name} (owner: {sec.owner}) nor owner of its "
            "catalog or schema" + (" nor an account admin" if sec_type == "metastore" else ""),
        )
        return
    entries = blocks(ctx.res.values, "grant") if ctx.res.type == "databricks_grants" else [ctx.res.values]
    if ctx.res.type == "databricks_grants":
        sec.grants = [g for g in sec.grants if g.origin is not None and g.origin.stack != ctx.stack.name]
    for entry in entries:
        principal = ctx.principal(entry.get("principal"))
        if ctx.existing_principal(principal, f"{operation} to {entry.get('principal')}", uc=True):
            assert principal is not None
            add_grants(ctx, sec, principal, list(entry.get("privileges") or []))


def _may_grant(ctx: ApplyContext, sec: Securable) -> bool:
    ms = ctx.metastore_of(sec)
    if ctx.is_metastore_admin(ms) or ctx.owns(sec) or ctx.has(sec, "MANAGE"):
        return True
    if sec.type == "metastore":
        return ctx.is_account_admin()
    parent = ctx.parent(sec)
    while parent is not None and parent.type in ("schema", "catalog"):
        if ctx.owns(parent):
            return True
        parent = ctx.parent(parent)
    return False


@handles("managed", "databricks_file")
def file(ctx: ApplyContext) -> None:
    path = ctx.value("path")
    volume_name = _volume_of_path(ctx, path)
    operation = f"upload {ctx.known(path) or path}"
    ctx.acting_workspace(operation)
    if volume_name is None:
        return
    vol = ctx.securable("volume", volume_name, operation)
    if vol is None:
        return
    missing = ctx.can_use_path(vol) or (
        None if ctx.has(vol, "WRITE_VOLUME") else f"WRITE_VOLUME on {vol.name}"
    )
    if missing:
        ctx.fail("SIM023", operation, missing)


def _volume_of_path(ctx: ApplyContext, path: object) -> str | None:
    """``catalog.schema.volume`` of a ``/Volumes/c/s/v/...`` path."""
    text = ctx.known(path) or ""
    parts = text.split("/")
    return ".".join(parts[2:5]) if text.startswith("/Volumes/") and len(parts) >= 5 else None
