"""The run phase: every job task, on paper, under the identity the job runs as.

A task's operations are those its entry point declares (``ml_jobs/operations.py``) for the model spec
the job was synthesized from, plus what the cluster needs before the code starts: the wheel from a
volume (SIM051) and the secrets in its environment (SIM052).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.simulate.engine import ApplyContext, Simulator
from infra.simulate.handlers_workspace import acl_level
from infra.simulate.model import StackInput
from infra.simulate.world import Key, Securable, Workspace, WorkspaceObject
from infra.tfdoc import blocks
from mlops_spec import operations as ops

SECRET = re.compile(r"\{\{secrets/([^/{}]+)/([^/{}]+)\}\}")
RUN_LEVELS = frozenset({"CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"})
USE_LEVELS = frozenset({"CAN_USE", "CAN_MANAGE", "IS_OWNER"})
EDIT_LEVELS = frozenset({"CAN_EDIT", "CAN_MANAGE", "IS_OWNER"})
VIEW_LEVELS = frozenset({"CAN_VIEW", "CAN_QUERY", "CAN_MANAGE", "IS_OWNER"})


class RunContext(ApplyContext):
    """Checks after the whole deploy: every fact is visible; the identity is the job's."""

    def __init__(
        self, sim: Simulator, stack: StackInput, job: WorkspaceObject, identity: Key, where: str
    ) -> None:
        assert job.origin is not None  # run_jobs picks jobs this stack's deploy created, each with its origin
        res = stack.index.by_address[job.origin.address]
        super().__init__(sim, stack, res)
        self.identity = identity
        self.where = where

    def sees(self, origin: object) -> bool:
        return True

    def fail(self, rule: str, operation: str, missing: str, identity: Key | str | None = None) -> None:
        self.sim.fail(rule, self.stack.name, self.where, operation, identity or self.identity, missing)


Check = Callable[[RunContext, Workspace, ops.Operation], None]
"""What one declared operation needs; failures go to ``ctx.fail``."""


def run_jobs(sim: Simulator, stack: StackInput) -> int:
    tasks = 0
    for ws in sim.world.workspaces.values():
        for (kind, name), job in sorted(ws.objects.items(), key=lambda item: item[0]):
            if kind != "job" or name != job.name or job.settings.get("stack") != stack.name:
                continue
            tasks += _run_job(sim, stack, ws, job)
        # SQL runs after the jobs that write the tables it reads (the inventory writes the fleet tables).
        for kind in ("alert", "dashboard"):
            for obj in _objects(ws, kind, stack):
                tasks += run_sql_object(sim, stack, ws, obj)
    return tasks


def _objects(ws: Workspace, kind: str, stack: StackInput) -> list[WorkspaceObject]:
    found = [o for (k, n), o in ws.objects.items() if k == kind and n == o.name]
    return sorted((o for o in found if o.settings.get("stack") == stack.name), key=lambda o: o.name)


TABLE_NAME = re.compile(r"(?<![\w.`])([A-Za-z_]\w*)\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?![\w.])")


def tables_read(ctx: RunContext, sql: list[str]) -> list[str]:
    """Three-level names in the SQL whose catalog exists (the rest are not tables: aliases, functions)."""
    names = {".".join(m) for text in sql for m in TABLE_NAME.findall(text)}
    return sorted(n for n in names if ctx.world.securable("catalog", n.split(".")[0]) is not None)


def run_sql_object(sim: Simulator, stack: StackInput, ws: Workspace, obj: WorkspaceObject) -> int:
    """An alert's query under its run_as (or owner); a dashboard's under each viewer, or its publisher
    when credentials are embedded. Each needs CAN_USE on the warehouse and to read every table."""
    found = obj.settings.get("sql")
    sql = [str(text) for text in found] if isinstance(found, list) else []
    if obj.kind == "alert":
        run_as = obj.settings.get("run_as")
        runners = [run_as if isinstance(run_as, Key) else obj.owner]
        rule, what = "SIM058", f"alert {obj.name!r}"
    elif obj.settings.get("embed_credentials"):
        runners, rule, what = [obj.owner], "SIM059", f"dashboard {obj.name!r} (embedded credentials)"
    else:
        runners = sorted(obj.acl.entries, key=str)
        rule, what = "SIM059", f"dashboard {obj.name!r}"
    for identity in runners:
        if identity is None:
            continue
        ctx = RunContext(sim, stack, obj, identity, f"{what} as {identity}")
        warehouse = ws.obj("sql_warehouse", str(obj.settings.get("warehouse")))
        if warehouse is None:
            ctx.fail(rule, "run its queries", f"no warehouse {obj.settings.get('warehouse')!r}")
        elif not _inherited_level(ctx, ws, warehouse, USE_LEVELS):
            ctx.fail(rule, f"use warehouse {warehouse.name}", f"no CAN_USE on warehouse {warehouse.name}")
        for table in tables_read(ctx, sql):
            _table(ctx, ws, ops.Operation(ops.READ_TABLE, table), rule)
    return 1


def _run_job(sim: Simulator, stack: StackInput, ws: Workspace, job: WorkspaceObject) -> int:
    run_as = job.settings.get("run_as")
    identity = run_as if isinstance(run_as, Key) else job.owner  # SIM050: no run_as -> the owner
    if identity is None:
        return 0
    values = job.settings.get("values") or {}
    assert isinstance(values, dict)
    count = 0
    for task in blocks(values, "task"):
        count += 1
        where = f"job {job.name!r} task {task.get('task_key', '?')}"
        ctx = RunContext(sim, stack, job, identity, where)
        for cluster in _clusters(values, task):
            for var, raw in sorted((cluster.get("spark_env_vars") or {}).items()):
                for scope, key in SECRET.findall(str(raw)):
                    _read_secret(ctx, ws, scope, key, var)
        for lib in blocks(task, "library"):
            path = ctx.known(lib.get("whl"))
            if path:
                _read_volume_path(ctx, path, f"install {path}")
        wheel = task.get("python_wheel_task")
        if isinstance(wheel, dict):
            for op in _declared(sim, stack, wheel):
                check(ctx, ws, op)
    return count


def _clusters(job: dict[str, Any], task: dict[str, Any]) -> list[dict[str, Any]]:
    key = task.get("job_cluster_key")
    found = [jc.get("new_cluster") for jc in blocks(job, "job_cluster") if jc.get("job_cluster_key") == key]
    found += [task.get("new_cluster")]
    return [c for c in found if isinstance(c, dict)]


def _declared(sim: Simulator, stack: StackInput, wheel: dict[str, Any]) -> list[ops.Operation]:
    from ml_jobs.operations import ENVIRONMENT_DECLARATIONS, declared, declared_for_environment

    params = wheel.get("named_parameters") or {}
    entry_point = str(wheel.get("entry_point"))
    model_name, env = params.get("model"), params.get("env")
    models = sim.context.models(str(env)) if sim.context else {}
    catalog = sim.context.catalog(str(env)) if sim.context else None
    if model_name is None and entry_point in ENVIRONMENT_DECLARATIONS:
        if catalog is None or not models:
            sim.notes.append(f"{stack.name}: task {entry_point} of {env!r}: no specs; operations not checked")
            return []
        return declared_for_environment(entry_point, list(models.values()), str(env), catalog)
    if model_name not in models or catalog is None:
        sim.notes.append(
            f"{stack.name}: task {entry_point} of model {model_name!r}: no model spec; operations not checked"
        )
        return []
    return declared(entry_point, models[str(model_name)], str(env), catalog)


def check(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    handler = CHECKS[op.action]
    handler(ctx, ws, op)


def _read_secret(ctx: RunContext, ws: Workspace, scope_name: str, key: str, var: str) -> None:
    operation = f"resolve {var} from secret {scope_name}/{key}"
    scope = ws.obj("secret_scope", scope_name)
    if scope is None:
        ctx.fail("SIM052", operation, f"no secret scope {scope_name}")
    elif acl_level(ctx, scope, ctx.identity) not in ("READ", "WRITE", "MANAGE"):
        ctx.fail("SIM052", operation, f"no READ on secret scope {scope_name}")


def _read_volume_path(ctx: RunContext, path: str, operation: str) -> None:
    parts = path.split("/")
    if not path.startswith("/Volumes/") or len(parts) < 5:
        return
    vol = ctx.world.securable("volume", ".".join(parts[2:5]))
    if vol is None:
        ctx.fail("SIM051", operation, f"no volume {'.'.join(parts[2:5])}")
        return
    missing = ctx.can_use_path(vol) or (None if ctx.has(vol, "READ_VOLUME") else f"READ_VOLUME on {vol.name}")
    if missing:
        ctx.fail("SIM051", operation, missing)


def _schema_of(ctx: RunContext, table: str) -> Securable | None:
    return ctx.world.securable("schema", table.rsplit(".", 1)[0])


def _table(ctx: RunContext, ws: Workspace, op: ops.Operation, rule: str = "SIM053") -> None:
    operation = str(op)
    table = ctx.world.securable("table", op.target)
    schema = _schema_of(ctx, op.target)
    if schema is None:
        ctx.fail(rule, operation, f"no schema {op.target.rsplit('.', 1)[0]}")
        return
    missing = ctx.can_use_path(schema)
    if missing is None:
        if op.action == ops.READ_TABLE:
            # A table nobody here creates is an input (written by a data pipeline): SELECT is inherited.
            if not (ctx.has(table, "SELECT") if table else ctx.has(schema, "SELECT", on_child=True)):
                missing = f"SELECT on {op.target}"
        elif table is None:
            if not ctx.has(schema, "CREATE_TABLE"):
                missing = f"CREATE_TABLE on schema {schema.name} (the table does not exist yet)"
            else:
                ctx.world.securables[("table", op.target)] = Securable(
                    "table", op.target, ctx.identity, parent=schema.name
                )
        else:
            lacking = [p for p in ("MODIFY", "SELECT") if not ctx.has(table, p)]
            missing = f"{' and '.join(lacking)} on {op.target}" if lacking else None
    if missing:
        ctx.fail(rule, operation, missing)


def _model(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    operation = str(op)
    model = ctx.world.securable("registered_model", op.target)
    if model is None:
        ctx.fail("SIM054", operation, f"no registered model {op.target}")
        return
    missing = ctx.can_use_path(model)
    if missing is None:
        if op.action in (ops.REGISTER_VERSION, ops.SET_ALIAS, ops.SET_VERSION_DESCRIPTION):
            if not ctx.owns(model):
                missing = f"ownership of {op.target} (owner: {model.owner})"
        elif op.action in (ops.SET_VERSION_TAG, ops.SET_MODEL_TAG) and not ctx.has(model, "APPLY_TAG"):
            missing = f"APPLY_TAG on {op.target}"
        elif op.action == ops.LOAD_VERSION and not ctx.has(model, "EXECUTE"):
            missing = f"EXECUTE on {op.target}"
    if missing:
        ctx.fail("SIM054", operation, missing)


def _experiment(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    operation = str(op)
    exp = ws.obj("experiment", op.target)
    if exp is None:
        ctx.fail("SIM055", operation, f"no experiment {op.target}")
        return
    if not _inherited_level(ctx, ws, exp, EDIT_LEVELS):
        ctx.fail("SIM055", operation, f"no CAN_EDIT on {op.target} or its folders")


def _inherited_level(ctx: RunContext, ws: Workspace, obj: WorkspaceObject, wanted: frozenset[str]) -> bool:
    """An ACL level on the object or, inherited, on a folder above it; owners and admins always."""
    if ctx.is_or_in(ctx.identity, obj.owner) or ctx.workspace_level(ws) == "ADMIN":
        return True
    if acl_level(ctx, obj, ctx.identity) in wanted:
        return True
    path = (
        obj.name if obj.name.startswith("/") else "/"
    )  # folders hold paths; jobs and endpoints inherit nothing
    while path != "/":
        path = str(Path(path).parent)
        folder = ws.obj("directory", path)
        if folder is not None and acl_level(ctx, folder, ctx.identity) in wanted:
            return True
    return False


def _holds(
    rule: str, kind: str, level: str, levels: frozenset[str], shown: Callable[[str], str] = str
) -> Check:
    """The check that the identity holds ``level`` (any of ``levels``) on the ``kind`` object it targets."""
    noun = kind.replace("_", " ")

    def holds(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
        obj = ws.obj(kind, op.target)
        if obj is None:
            ctx.fail(rule, str(op), f"no {noun} {shown(op.target)}")
        elif not _inherited_level(ctx, ws, obj, levels):
            ctx.fail(rule, str(op), f"no {level} on {noun} {shown(op.target)}")

    return holds


def _list_models(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    """Listing returns only models the caller owns or may EXECUTE: to see every model of the schema
    (the ones nobody declared too), EXECUTE is granted on the schema or its catalog."""
    schema = ctx.world.securable("schema", op.target)
    if schema is None:
        ctx.fail("SIM054", str(op), f"no schema {op.target}")
        return
    executes = ctx.has(schema, "EXECUTE", on_child=True)
    missing = ctx.can_use_path(schema) or (None if executes else f"EXECUTE on {op.target} or its catalog")
    if missing:
        ctx.fail("SIM054", str(op), missing)


def _maintain_table(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    """SIM060: SET TBLPROPERTIES needs MODIFY, DELETE MODIFY and SELECT (privileges reach a table from its
    schema and catalog too); a table nobody creates first cannot be kept."""
    table = ctx.world.securable("table", op.target)
    if table is None:
        creators = "the stacks, the endpoint or an earlier task creates it"
        ctx.fail("SIM060", str(op), f"no table {op.target} ({creators})")
        return
    missing = ctx.can_use_path(table)
    if missing is None:
        lacking = [p for p in ("MODIFY", "SELECT") if not ctx.has(table, p)]
        missing = f"{' and '.join(lacking)} on {op.target}" if lacking else None
    if missing:
        ctx.fail("SIM060", str(op), missing)


def _volume(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    _read_volume_path(ctx, op.target, str(op))


def _secret(ctx: RunContext, ws: Workspace, op: ops.Operation) -> None:
    scope, _, key = op.target.partition("/")
    _read_secret(ctx, ws, scope, key, "the job")


CHECKS: dict[str, Check] = {
    ops.READ_TABLE: _table,
    ops.WRITE_TABLE: _table,
    ops.READ_VOLUME: _volume,
    ops.LOG_RUN: _experiment,
    ops.REGISTER_VERSION: _model,
    ops.SET_ALIAS: _model,
    ops.SET_VERSION_TAG: _model,
    ops.SET_VERSION_DESCRIPTION: _model,
    ops.LOAD_VERSION: _model,
    ops.START_JOB: _holds("SIM056", "job", "CAN_MANAGE_RUN", RUN_LEVELS, shown=repr),
    ops.UPDATE_ENDPOINT: _holds("SIM057", "serving_endpoint", "CAN_MANAGE", frozenset({"CAN_MANAGE"})),
    ops.VIEW_ENDPOINT: _holds("SIM057", "serving_endpoint", "CAN_VIEW", VIEW_LEVELS),
    ops.MAINTAIN_TABLE: _maintain_table,
    ops.READ_SECRET: _secret,
    ops.LIST_MODELS: _list_models,
    ops.SET_MODEL_TAG: _model,
}
