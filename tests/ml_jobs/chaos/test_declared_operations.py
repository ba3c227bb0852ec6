"""Each entry point does what ``ml_jobs/operations.py`` declares for it: no more, and no less.

The deployability simulator (``infra.simulate``) checks the job identity's privileges only for the
declared operations, so an operation the code performs but does not declare would pass the simulator
and fail on Databricks under the job's ``run_as``; a declared operation that no run performs asks the
stacks for a privilege nobody needs.

What it proves: each entry point below runs in-process from a chaos world (embedded defaults: Delta
tables through deltalake, MLflow on SQLite); every table access is recorded where it reaches
``deltalake`` and every registry and tracking call where it reaches MLflow's SQLAlchemy stores, so no
code path can go around the recorder, and the record is mapped to the simulator's vocabulary
(``mlops_spec.operations``) and compared with the declaration.
What it does not prove: Databricks-only paths (Spark SQL on Unity Catalog tables, ``jobs.run_now``,
serving endpoints). Those declarations (START_JOB, UPDATE_ENDPOINT, VIEW_ENDPOINT) are left out of the
"no less" direction, and ``deploy``, ``unpack``, ``score``, ``features`` and ``training-set`` are not
run here (a serving endpoint or a Spark session per run; their tables are covered by their own tests).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from ml_jobs import operations
from mlops_spec import tables
from mlops_spec.naming import job_name
from mlops_spec.operations import (
    LOAD_VERSION,
    LOG_RUN,
    MAINTAIN_TABLE,
    READ_TABLE,
    REGISTER_VERSION,
    SET_ALIAS,
    SET_MODEL_TAG,
    SET_VERSION_DESCRIPTION,
    SET_VERSION_TAG,
    START_JOB,
    UPDATE_ENDPOINT,
    VIEW_ENDPOINT,
    WRITE_TABLE,
    Operation,
)

from . import harness as h
from .conftest import _spec

CATALOG = "mlops_dev"
DATABRICKS_ONLY = frozenset({START_JOB, UPDATE_ENDPOINT, VIEW_ENDPOINT})
WRITTEN_BY_DATABRICKS = frozenset({".".join((CATALOG, *tables.payload(h.MODEL)))})
"""Tables only Databricks writes (the serving endpoint's inference table): absent from a local world."""

# MLflow store method -> the operation a Unity Catalog registry checks for it (mlops_spec.operations).
REGISTRY_CALLS = {
    "delete_model_version": REGISTER_VERSION,
    "set_model_version_tag": SET_VERSION_TAG,
    "delete_model_version_tag": SET_VERSION_TAG,
    "set_registered_model_alias": SET_ALIAS,
    "delete_registered_model_alias": SET_ALIAS,
    "update_model_version": SET_VERSION_DESCRIPTION,
    "set_registered_model_tag": SET_MODEL_TAG,
    "get_registered_model": LOAD_VERSION,
    "get_model_version": LOAD_VERSION,
    "get_model_version_by_alias": LOAD_VERSION,
    "get_model_version_download_uri": LOAD_VERSION,
}
SEARCHES = {"search_model_versions": LOAD_VERSION}
"""Store calls whose first argument is a filter (``name='<model>'``), not a name. A search that names
no model (``run_id = ...``) is not recorded: it returns only what the caller may read, so it needs no
privilege of its own."""
RUN_CALLS = ("log_batch", "set_tag", "log_metric", "log_param", "update_run_info", "log_inputs")
"""Tracking store calls on an existing run (``run_id`` first): CAN_EDIT on the run's experiment."""
ARTIFACT_CALLS = ("log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure", "log_image")
# create_registered_model is left out: on Databricks the stacks create every registered model, and
# mlflow.register_model creates one only when it is missing (here, on the first training of a world).
TRACKING_CALLS = ("create_run", "create_experiment")
# create_experiment: the stacks create the experiment; set_experiment creates it only where it is missing.


class Recorder:
    """The operations each entry point performed, keyed by entry point."""

    def __init__(self, root: Path) -> None:
        self.tables = (root / "tables").resolve()
        self.entry = ""
        self.seen: dict[str, set[Operation]] = defaultdict(set)

    def add(self, action: str, target: str) -> None:
        if self.entry:
            self.seen[self.entry].add(Operation(action, target))

    def table(self, action: str, uri: object) -> None:
        text = str(uri)
        path = Path(urlparse(text).path if text.startswith("file:") else text).resolve()
        schema, table = path.relative_to(self.tables).parts[:2]
        self.add(action, f"{CATALOG}.{schema}.{table}")

    @contextmanager
    def acting_as(self, entry: str) -> Iterator[None]:
        outer, self.entry = self.entry, entry
        try:
            yield
        finally:
            self.entry = outer


def _wrap(cls: Any, name: str, before: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        before(self, *args, **kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapper)


def _record_tables(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    import deltalake

    table_cls = deltalake.DeltaTable
    opened = lambda _s, uri=None, *a, **k: rec.table(READ_TABLE, k.get("table_uri", uri))  # noqa: E731
    _wrap(table_cls, "__init__", opened, monkeypatch)
    for method in ("merge", "delete", "update"):
        _wrap(table_cls, method, lambda s, *a, **k: rec.table(WRITE_TABLE, s.table_uri), monkeypatch)
    for method in ("vacuum", "optimize"):
        _wrap(table_cls, method, lambda s, *a, **k: rec.table(MAINTAIN_TABLE, s.table_uri), monkeypatch)
    alter = deltalake.table.TableAlterer
    for method in ("set_table_properties", "add_constraint", "drop_constraint", "add_columns"):
        if hasattr(alter, method):
            _wrap(alter, method, lambda s, *a, **k: rec.table(MAINTAIN_TABLE, s.table.table_uri), monkeypatch)
    create, write = table_cls.create, deltalake.write_deltalake

    def created(table_uri: Any, *args: Any, **kwargs: Any) -> Any:
        rec.table(WRITE_TABLE, table_uri)
        return create(table_uri, *args, **kwargs)

    def written(table_or_uri: Any, *args: Any, **kwargs: Any) -> Any:
        rec.table(WRITE_TABLE, table_or_uri)
        return write(table_or_uri, *args, **kwargs)

    monkeypatch.setattr(table_cls, "create", staticmethod(created))
    monkeypatch.setattr(deltalake, "write_deltalake", written)


def _record_mlflow(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    def registry_call(method: str, action: str) -> Callable[..., None]:
        signature = inspect.signature(getattr(RegistryStore, method))

        def record(store: Any, *args: Any, **kwargs: Any) -> None:
            call = signature.bind(store, *args, **kwargs).arguments
            name = call["name"] if "name" in call else _named(call.get("filter_string"))
            if name is not None:
                rec.add(action, str(name))

        return record

    for method, action in {**REGISTRY_CALLS, **SEARCHES}.items():
        _wrap(RegistryStore, method, registry_call(method, action), monkeypatch)
    create_version = RegistryStore.create_model_version

    def create_model_version(store: Any, *args: Any, **kwargs: Any) -> Any:
        call = inspect.signature(create_version).bind(store, *args, **kwargs).arguments
        rec.add(REGISTER_VERSION, call["name"])
        if call.get("tags"):  # a version born with tags: APPLY_TAG, as a tag set after it
            rec.add(SET_VERSION_TAG, call["name"])
        return create_version(store, *args, **kwargs)

    monkeypatch.setattr(RegistryStore, "create_model_version", create_model_version)
    get_experiment = TrackingStore.get_experiment

    def run_in(store: Any, experiment_id: Any = None, *args: Any, **kwargs: Any) -> None:
        experiment_id = kwargs.get("experiment_id", experiment_id)
        rec.add(LOG_RUN, get_experiment(store, experiment_id).name)

    _wrap(TrackingStore, "create_run", run_in, monkeypatch)
    get_run = TrackingStore.get_run

    def on_run(store: Any, run_id: str, *args: Any, **kwargs: Any) -> None:
        rec.add(LOG_RUN, get_experiment(store, get_run(store, run_id).info.experiment_id).name)

    for method in RUN_CALLS:
        _wrap(TrackingStore, method, on_run, monkeypatch)
    from mlflow import MlflowClient

    def artifact(client: Any, run_id: str, *args: Any, **kwargs: Any) -> None:
        run = client.get_run(run_id)
        rec.add(LOG_RUN, client.get_experiment(run.info.experiment_id).name)

    for method in ARTIFACT_CALLS:
        _wrap(MlflowClient, method, artifact, monkeypatch)
    _wrap(TrackingStore, "create_experiment", lambda _s, name, *a, **k: rec.add(LOG_RUN, name), monkeypatch)


def _named(filter_string: str | None) -> str | None:
    found = re.search(r"name\s*=\s*'([^']+)'", filter_string or "")
    return found.group(1) if found else None


def _record_trigger(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locally ``monitor`` runs the retraining in-process where Databricks starts the retraining job:
    record that as START_JOB, and what the retraining does as ``retrain``'s own operations."""
    import ml_jobs.monitor as monitor

    local_trigger = monitor._trigger

    def trigger(ctx: Any, args: Any) -> Any:
        run = local_trigger(ctx, args)
        if run is None:
            return None

        def started(request: Any) -> Any:
            rec.add(START_JOB, job_name(ctx.runtime.env, ctx.spec.model.name, "retrain"))
            with rec.acting_as("retrain"):
                return run(request)

        return started

    monkeypatch.setattr(monitor, "_trigger", trigger)


CASES = {
    "train": ("data", h.FAST_PARAMS),
    "validate": ("trained", ()),
    "promote": ("promotable", ("--actor", "ops")),
    "approve": ("promotable", ()),
    "rollback": ("deployable", ("--actor", "ops")),
    "monitor": ("production", ()),
    "retrain": ("production", (*h.FAST_PARAMS, "--reason", "declared operations")),
    "maintain": ("production", ()),
}


def _run(
    job: str, world: str, args: tuple[str, ...], worlds: Any, base: Path, mp: pytest.MonkeyPatch
) -> Recorder:
    root = worlds.copy(world, base / f"{job}-{world}")
    for key in [k for k in os.environ if k.startswith(("MLOPS_", "MLFLOW_", "DATABRICKS_"))]:
        mp.delenv(key)
    for key, value in h.job_env(root).items():
        mp.setenv(key, value)
    if job == "approve":  # signed by someone who did not train it, in the chain's first group
        spec = _spec()
        mp.setenv("LOGNAME", "declared-operations-approver")
        mp.setenv("MLOPS_LOCAL_GROUPS", spec.env.groups[spec.env.approvals.for_tier(None)[0]])
    rec = Recorder(root)
    _record_tables(rec, mp)
    _record_mlflow(rec, mp)
    _record_trigger(rec, mp)
    entry = importlib.import_module(f"ml_jobs.{job}")
    with rec.acting_as(job):
        code = entry.main(["--model", h.MODEL, "--env", "dev", *h.COMMON, *args])
    assert code in (0, 5, 7), f"{job} exited {code}"
    return rec


@pytest.fixture(scope="module")
def recorded(worlds: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[Operation]]:
    base = tmp_path_factory.mktemp("declared-operations")
    seen: dict[str, set[Operation]] = defaultdict(set)
    for job, (world, args) in CASES.items():
        with pytest.MonkeyPatch.context() as mp:
            for entry, ops in _run(job, world, args, worlds, base, mp).seen.items():
                seen[entry] |= ops
    return seen


def _covered(ops: set[Operation]) -> set[Operation]:
    """What a set of operations allows: writing a table includes reading it (MODIFY with SELECT),
    maintaining it (ownership) includes both."""
    out = set(ops)
    for op in ops:
        if op.action in (WRITE_TABLE, MAINTAIN_TABLE):
            out |= {Operation(READ_TABLE, op.target), Operation(WRITE_TABLE, op.target)}
    return out


def _declared(job: str) -> set[Operation]:
    return set(operations.declared(job, _spec().model, "dev", CATALOG))


@pytest.mark.parametrize("job", sorted(CASES))
def test_the_code_does_nothing_its_declaration_leaves_out(
    job: str, recorded: dict[str, set[Operation]]
) -> None:
    undeclared = recorded[job] - _covered(_declared(job))
    assert not undeclared, f"{job} performs undeclared operations: {sorted(map(str, undeclared))}"


@pytest.mark.parametrize("job", sorted(CASES))
def test_every_declared_operation_is_performed(job: str, recorded: dict[str, set[Operation]]) -> None:
    expected = {
        op
        for op in _declared(job)
        if op.action not in DATABRICKS_ONLY and op.target not in WRITTEN_BY_DATABRICKS
    }
    unused = expected - _covered(recorded[job])
    assert not unused, f"{job} declares operations no run performs: {sorted(map(str, unused))}"


def test_a_declaration_that_drops_an_operation_is_caught(recorded: dict[str, set[Operation]]) -> None:
    """The comparison can fail: without its version tags, train's declaration misses what train does."""
    declared = {op for op in _declared("train") if op.action != SET_VERSION_TAG}
    assert recorded["train"] - _covered(declared)
