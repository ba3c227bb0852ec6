"""The daily inventory on the embedded defaults: MLflow on SQLite and Delta tables through ``deltalake``.

Proves: every registered model of the schema is listed (one registered by hand is flagged, one
declared but never registered too); the spec's tags are set once and a re-run changes nothing; the
fleet tables keep their schema when no model was monitored; a run killed at any step and run again,
or two runs at once, leave exactly what one clean run leaves; the operations the job performs are
the ones ``ml_jobs.operations`` declares for the simulator. Does not prove: Unity Catalog's answers
(owners, listing filtered by privileges) beyond what ``test_sources`` shows at the HTTP boundary.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ml_jobs.errors import BadInput, InfraError
from ml_jobs.fleet.inventory import (
    INVENTORY_COLUMNS,
    METRIC_COLUMNS,
    RuntimeTables,
    build_inventory,
    run_inventory,
    write_snapshot,
)
from ml_jobs.fleet.sources import LocalWorkspace, MlflowRegistry
from ml_jobs.operations import declared_for_environment
from ml_jobs.registry import client as reg
from ml_jobs.registry.client import connect
from mlops_spec import tables
from mlops_spec.config import load_environment, load_models
from mlops_spec.naming import FLEET_TABLES, MONITORING_SCHEMA
from mlops_spec.operations import (
    LIST_MODELS,
    READ_TABLE,
    SET_MODEL_TAG,
    VIEW_ENDPOINT,
    WRITE_TABLE,
    Operation,
)
from tests.ml_jobs.conftest import local_runtime

ENV = "dev"
CATALOG = "mlops_dev"
NOW = datetime(2025, 3, 11, 7, tzinfo=UTC)
CHURN, FRAUD, STRAY = "marketing_churn_gbm", "risk_fraud_xgb", "marketing_upsell_lr"


def metrics_frame(model: str, days: int = 3, drift_on_last: bool = True) -> pd.DataFrame:
    rows = []
    for day in range(days):
        start = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=day)
        drifted = drift_on_last and day == days - 1
        base = {"window_start": start, "window_end": start + timedelta(days=1), "granularity": "1 day"}
        base |= {"drift_type": "BASELINE", "model_name": model, "model_version": "1", "status": "ok"}
        rows += [
            {**base, "column": "__dataset__", "metric": "drift_share", "value": 0.4 if drifted else 0.0,
             "threshold": 0.3, "drifted": drifted},
            {**base, "column": "__performance__", "metric": "roc_auc", "value": 0.70 if drifted else 0.81,
             "threshold": 0.7, "drifted": False},
            {**base, "column": "__performance__", "metric": "roc_auc_ci_low", "value": 0.68,
             "threshold": None, "drifted": False},
            {**base, "column": "tenure_months", "metric": "js_distance", "value": 0.2 if drifted else 0.01,
             "threshold": 0.1, "drifted": drifted},
            {**base, "column": "tenure_months", "metric": "p_value", "value": 0.5, "threshold": None,
             "drifted": False},
        ]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """A registry with the churn model (v1, v2; champion v2 with its lineage tags) and a stray model
    registered by hand; churn's metrics and one retraining decision in Delta."""
    runtime = local_runtime(tmp_path, ENV)
    client = connect(runtime)
    churn = runtime.registered_name(CHURN)
    client.create_registered_model(churn)
    for version in ("1", "2"):
        client.create_model_version(churn, source=f"file://{tmp_path}/model-{version}")
    client.set_model_version_tag(churn, "2", reg.TAG_DATA_TABLE, "mlops_dev.features.churn_training")
    client.set_model_version_tag(churn, "2", reg.TAG_DATA_VERSION, "3")
    client.set_model_version_tag(churn, "1", "data.table", "mlops_dev.features.churn_training")  # legacy
    client.set_model_version_tag(churn, "1", "data.version", "1")
    client.set_registered_model_alias(churn, "champion", "2")
    client.create_registered_model(runtime.registered_name(STRAY))
    runtime.write_table(metrics_frame(CHURN), *tables.drift_metrics(CHURN))
    decision = {"decided_at": "2025-03-07T00:00:00+00:00", "model": CHURN, "env": ENV, "trigger": "drift",
                "decision": "promoted", "reason": "gain", "champion_version": "1", "challenger_version": "2",
                "champion_auc": 0.75, "challenger_auc": 0.84}  # fmt: skip
    runtime.write_table(pd.DataFrame([decision]), *tables.retrain_decisions(CHURN))
    env = load_environment(ENV)
    return {"runtime": runtime, "client": client, "models": load_models(ENV), "groups": env.groups}


def run(world: dict[str, Any], io: Any = None, registry: Any = None) -> Any:
    return run_inventory(
        world["models"],
        ENV,
        CATALOG,
        world["groups"],
        registry or MlflowRegistry(world["client"]),
        LocalWorkspace(),
        io or RuntimeTables(world["runtime"]),
        now=NOW,
    )


def fleet_tables(runtime: Any) -> dict[str, pd.DataFrame]:
    return {t: runtime.read_table(MONITORING_SCHEMA, t)[0] for t in FLEET_TABLES}


def test_every_model_of_the_schema_is_listed_and_strays_are_flagged(world: dict[str, Any]) -> None:
    result = run(world)
    rows = result.rows.set_index("model")
    assert result.flagged == {FRAUD: "not_registered", STRAY: "not_in_spec"}
    churn = rows.loc[CHURN]
    assert (churn["versions"], churn["latest_version"], churn["champion_version"]) == (2, "2", "2")
    assert json.loads(churn["aliases"]) == {"champion": "2"}
    lineage = (churn["training_table"], churn["training_data_version"])
    assert lineage == ("mlops_dev.features.churn_training", "3")
    assert churn["monitoring_status"] == "drift+below_floor"  # 0.70 < validation.min_roc_auc 0.75
    assert churn["dataset_drift_share"] == pytest.approx(0.4)
    assert (churn["last_retrain_decision"], churn["endpoint_name"]) == ("promoted", "marketing-churn-gbm-dev")
    assert rows.loc[FRAUD, "monitoring_status"] == "never_monitored"
    assert pd.isna(rows.loc[STRAY, "criticality"])  # not declared: nothing known about it


def test_a_champion_trained_by_an_earlier_release_keeps_its_dotted_lineage(world: dict[str, Any]) -> None:
    client = world["client"]
    client.set_registered_model_alias(world["runtime"].registered_name(CHURN), "champion", "1")
    churn = run(world).rows.set_index("model").loc[CHURN]
    assert (churn["training_table"], churn["training_data_version"]) == (
        "mlops_dev.features.churn_training",
        "1",
    )


def test_the_spec_tags_are_set_once(world: dict[str, Any]) -> None:
    first = run(world)
    assert sorted(k for m, k, _ in first.tags_set if m == CHURN) == sorted(
        ["department", "use_case", "algorithm", "owner_group", "criticality"]
    )
    tags = world["client"].get_registered_model(f"{CATALOG}.models.{CHURN}").tags
    assert tags == {"department": "marketing", "use_case": "churn", "algorithm": "gbm",
                    "owner_group": "ml-engineers", "criticality": "high"}  # fmt: skip
    assert world["client"].get_registered_model(f"{CATALOG}.models.{STRAY}").tags == {}  # not ours to tag
    assert run(world).tags_set == []


def test_fleet_tables_keep_their_schema_when_nothing_was_monitored(tmp_path: Path) -> None:
    runtime = local_runtime(tmp_path, ENV)
    world = {"runtime": runtime, "client": connect(runtime), "models": load_models(ENV), "groups": {}}
    run(world)
    written = fleet_tables(runtime)
    assert written["fleet_metrics"].empty and list(written["fleet_metrics"].columns) == list(METRIC_COLUMNS)
    assert list(written["model_inventory"].columns) == list(INVENTORY_COLUMNS)
    assert str(written["model_inventory"]["last_window_end"].dtype).startswith("datetime64")


def test_fails_on_a_metrics_table_without_the_columns_it_reads(world: dict[str, Any]) -> None:
    broken = pd.DataFrame({"window_start": [NOW], "metric": ["drift_share"], "value": [0.1]})
    world["runtime"].write_table(broken, *tables.drift_metrics(CHURN), mode="overwrite")
    with pytest.raises(BadInput, match="lacks columns"):
        run(world)


# --- kill-safe and exactly-once -------------------------------------------------------------------


class Killed(BaseException):
    """A kill: not an Exception, so nothing in the job catches it."""


class KillAt(RuntimeTables):
    """Tables that die on the n-th write (counting from 1)."""

    def __init__(self, runtime: Any, at: int) -> None:
        super().__init__(runtime)
        self.at, self.writes = at, 0

    def write(self, frame: pd.DataFrame, schema: str, table: str) -> None:
        self.writes += 1
        if self.writes == self.at:
            raise Killed(f"killed before writing {table}")
        super().write(frame, schema, table)


def _snapshot(runtime: Any) -> dict[str, Any]:
    """Each fleet table as JSON rows in a fixed order (NaN compares equal there, unlike in dicts)."""
    out = {}
    for table, frame in fleet_tables(runtime).items():
        ordered = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        out[table] = json.loads(ordered.to_json(orient="records", date_format="iso"))
    return out


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_run_killed_at_any_write_then_run_again_ends_as_one_clean_run(world: dict, at: int) -> None:
    with pytest.raises(Killed):
        run(world, io=KillAt(world["runtime"], at))
    run(world)
    after_kill = _snapshot(world["runtime"])
    run(world)  # a clean run on top changes nothing
    assert _snapshot(world["runtime"]) == after_kill
    assert {r["model"] for r in after_kill["model_inventory"]} == {CHURN, FRAUD, STRAY}


def test_a_run_killed_between_two_tag_writes_then_run_again_tags_everything(world: dict[str, Any]) -> None:
    class DiesOnSecondTag(MlflowRegistry):
        calls = 0

        def set_tag(self, full_name: str, key: str, value: str) -> None:
            DiesOnSecondTag.calls += 1
            if DiesOnSecondTag.calls == 2:
                raise Killed("killed between two tags")
            super().set_tag(full_name, key, value)

    with pytest.raises(Killed):
        run(world, registry=DiesOnSecondTag(world["client"]))
    again = run(world)
    assert len(again.tags_set) == 4  # the one set before the kill stays set
    assert len(world["client"].get_registered_model(f"{CATALOG}.models.{CHURN}").tags) == 5


def test_two_runs_at_once_leave_one_snapshot(world: dict[str, Any]) -> None:
    run(world)
    expected = _snapshot(world["runtime"])
    errors: list[BaseException] = []

    def one() -> None:
        try:
            run(world)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _snapshot(world["runtime"]) == expected


def test_a_conflicting_overwrite_is_written_again_then_gives_up_with_exit_3() -> None:
    class CommitFailedError(Exception):
        pass

    calls = []

    def conflicts_twice() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise CommitFailedError("a concurrent transaction deleted data this operation read")

    write_snapshot(conflicts_twice, "monitoring.model_inventory", backoff_s=0)
    assert len(calls) == 3

    def always() -> None:
        raise CommitFailedError("conflict")

    def broken() -> None:
        calls.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(InfraError, match="3 conflicting overwrites"):
        write_snapshot(always, "monitoring.model_inventory", attempts=3, backoff_s=0)
    calls.clear()
    with pytest.raises(ValueError):
        write_snapshot(broken, "monitoring.model_inventory", backoff_s=0)
    assert len(calls) == 1  # any other error is not retried


# --- the declaration the simulator checks --------------------------------------------------------


class Recording(RuntimeTables):
    def __init__(self, runtime: Any, log: list[Operation]) -> None:
        super().__init__(runtime)
        self.log = log

    def read(self, schema: str, table: str) -> pd.DataFrame | None:
        self.log.append(Operation(READ_TABLE, f"{CATALOG}.{schema}.{table}"))
        return super().read(schema, table)

    def write(self, frame: pd.DataFrame, schema: str, table: str) -> None:
        self.log.append(Operation(WRITE_TABLE, f"{CATALOG}.{schema}.{table}"))
        super().write(frame, schema, table)


class RecordingRegistry(MlflowRegistry):
    def __init__(self, client: Any, log: list[Operation]) -> None:
        super().__init__(client)
        self.log = log

    def list_models(self, prefix: str) -> list[str]:
        self.log.append(Operation(LIST_MODELS, prefix.rstrip(".")))
        return super().list_models(prefix)

    def set_tag(self, full_name: str, key: str, value: str) -> None:
        self.log.append(Operation(SET_MODEL_TAG, full_name))
        super().set_tag(full_name, key, value)


class RecordingWorkspace(LocalWorkspace):
    def __init__(self, log: list[Operation]) -> None:
        self.log = log

    def endpoint_state(self, name: str) -> str:
        self.log.append(Operation(VIEW_ENDPOINT, name))
        return super().endpoint_state(name)


def test_the_job_performs_exactly_the_operations_it_declares(world: dict[str, Any]) -> None:
    # Reading a model (get, versions) is covered by LIST_MODELS: the schema-level EXECUTE it needs.
    log: list[Operation] = []
    run_inventory(
        world["models"],
        ENV,
        CATALOG,
        world["groups"],
        RecordingRegistry(world["client"], log),
        RecordingWorkspace(log),
        Recording(world["runtime"], log),
        now=NOW,
    )
    declared = set(declared_for_environment("inventory", world["models"], ENV, CATALOG))
    performed = set(log)
    # Tags are set only on declared models that exist: FRAUD is declared but not registered yet.
    assert performed - declared == set()
    assert declared - performed == {Operation(SET_MODEL_TAG, f"{CATALOG}.models.{FRAUD}")}


def test_the_inventory_reads_nothing_it_would_need_a_spec_for(world: dict[str, Any]) -> None:
    """The stray model's own tables are never read: the job only knows the declared models' tables."""
    log: list[Operation] = []
    build_inventory(world["models"], ENV, CATALOG, world["groups"], MlflowRegistry(world["client"]),
                    LocalWorkspace(), Recording(world["runtime"], log), now=NOW)  # fmt: skip
    assert not [op for op in log if STRAY in op.target]
