"""The fleet's workspace objects: notification destinations, SQL warehouses, dashboards and SQL alerts.

What each step needs comes from the provider (v1.99.0) and the API reference: only workspace admins
manage notification destinations (docs/resources/notification_destination.md); the warehouse API
refuses some settings outright (databricks-sdk sql.EndpointInfo docstrings); a dashboard's parent
folder is created when missing, an alert's is not (dashboards/resource_dashboard.go: MkdirsByPath
after a "parent doesn't exist" error; alert_v2/resource_alert_v2.go: CreateAlert only); an alert's
``run_as`` service principal needs the servicePrincipal.user role (docs/resources/alert_v2.md).
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from infra.simulate.engine import ApplyContext, handles
from infra.simulate.handlers_workspace import SHARED, _add, _object, run_as_identity
from infra.simulate.world import Workspace
from infra.tfdoc import block, blocks

WAREHOUSE_MAX_CLUSTERS = 40
WAREHOUSE_MAX_MIN_CLUSTERS = 30
WAREHOUSE_MIN_AUTO_STOP = 10
ROOTS = ("/", SHARED, "/Users", "/Repos")


@handles("managed", "databricks_notification_destination")
def notification_destination(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("display_name")) or ctx.res.address
    operation = f"create notification destination {name}"
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return
    if ctx.workspace_level(ws) != "ADMIN":
        ctx.fail("SIM037", operation, f"not a workspace admin of {ws.env or ws.id}")
    _add(ctx, ws, "notification_destination", name)


def _number(value: object, default: float) -> float:
    try:
        return float(value) if value is not None else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def warehouse_problems(values: dict[str, Any]) -> list[str]:
    """Settings the SQL warehouses API refuses (EndpointInfo: auto_stop_mins, min/max_num_clusters;
    serverless warehouses are PRO: docs/resources/sql_endpoint.md, warehouse_type)."""
    out = []
    auto_stop = _number(values.get("auto_stop_mins"), 120)  # the API's default
    if auto_stop != 0 and auto_stop < WAREHOUSE_MIN_AUTO_STOP:
        out.append(f"auto_stop_mins {auto_stop:g}: must be 0 or >= {WAREHOUSE_MIN_AUTO_STOP}")
    low = _number(values.get("min_num_clusters"), 1)
    high = _number(values.get("max_num_clusters"), low)
    if not 0 < low <= min(high, WAREHOUSE_MAX_MIN_CLUSTERS):
        out.append(f"min_num_clusters {low:g}: must be > 0 and <= min(max_num_clusters, 30)")
    if high > WAREHOUSE_MAX_CLUSTERS:
        out.append(f"max_num_clusters {high:g}: must be <= {WAREHOUSE_MAX_CLUSTERS}")
    serverless = values.get("enable_serverless_compute") in (True, "true")
    if serverless and values.get("warehouse_type") not in (None, "PRO"):
        out.append(f"serverless with warehouse_type {values.get('warehouse_type')}: serverless is PRO only")
    return out


@handles("managed", "databricks_sql_endpoint")
def sql_warehouse(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("name")) or ctx.res.address
    operation = f"create SQL warehouse {name}"
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return
    for problem in warehouse_problems(ctx.res.values):
        ctx.fail("SIM038", operation, problem)
    _add(ctx, ws, "sql_warehouse", name)  # the creator owns it (CAN_MANAGE through ownership)


def _parent_folder(
    ctx: ApplyContext, ws: Workspace, path: str | None, operation: str, created_if_missing: bool
) -> None:
    if path is None or path in ROOTS:
        return
    folder = ws.obj("directory", path)
    if folder is not None:
        ctx._unordered(folder.origin, f"folder {path}", operation)
        return
    if not created_if_missing:
        ctx.need("SIM039", operation, "workspace object directory", path)
        return
    top = "/" + path.strip("/").split("/")[0]
    if top not in ROOTS and ws.obj("directory", top) is None and ctx.workspace_level(ws) != "ADMIN":
        ctx.fail("SIM003", operation, "only workspace admins create folders in the workspace root")


def dashboard_sql(serialized: str | None) -> list[str]:
    """The SQL of every dataset of a serialized Lakeview dashboard (queryLines joined)."""
    if not serialized:
        return []
    try:
        doc = json.loads(serialized)
    except json.JSONDecodeError:
        return []
    return ["".join(d.get("queryLines") or [d.get("query", "")]) for d in doc.get("datasets", [])]


@handles("managed", "databricks_dashboard")
def dashboard(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("display_name")) or ctx.res.address
    operation = f"create dashboard {name}"
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return
    _parent_folder(ctx, ws, ctx.known(ctx.value("parent_path")), operation, created_if_missing=True)
    warehouse = _object(ctx, ws, "sql_warehouse", ctx.value("warehouse_id"), operation)
    embed = ctx.value("embed_credentials")
    _add(
        ctx,
        ws,
        "dashboard",
        name,
        warehouse=warehouse.name if warehouse else None,
        # The provider's default is true (resource_dashboard.go): queries then run as the publisher.
        embed_credentials=embed not in (False, "false"),
        sql=dashboard_sql(ctx.known(ctx.value("serialized_dashboard"))),
        stack=ctx.stack.name,
    )


@handles("managed", "databricks_alert_v2")
def alert(ctx: ApplyContext) -> None:
    name = ctx.known(ctx.value("display_name")) or ctx.res.address
    operation = f"create alert {name}"
    ws = ctx.acting_workspace(operation)
    if ws is None:
        return
    parent = ctx.known(ctx.value("parent_path"))
    _parent_folder(ctx, ws, parent, operation, created_if_missing=False)
    warehouse = _object(ctx, ws, "sql_warehouse", ctx.value("warehouse_id"), operation)
    notification = block(block(ctx.res.values, "evaluation"), "notification")
    for sub in blocks(notification, "subscriptions"):
        if sub.get("destination_id") is not None:
            _object(ctx, ws, "notification_destination", sub["destination_id"], f"{operation}: subscription")
    runner = run_as_identity(ctx, block(ctx.res.values, "run_as"), operation)
    _add(
        ctx,
        ws,
        "alert",
        name,
        run_as=runner,
        warehouse=warehouse.name if warehouse else None,
        sql=[ctx.known(ctx.value("query_text")) or ""],
        stack=ctx.stack.name,
        path=posixpath.join(parent or "/", name),
    )
