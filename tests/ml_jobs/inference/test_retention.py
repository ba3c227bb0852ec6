"""The maintain task keeps the retention of the predictions, labels and payload tables.

Real Delta tables through deltalake (the local engine). What it proves: rows older than
``monitoring.retention_days`` leave each table a model has (the payload only where serving is on),
newer rows stay, the Delta retention properties are set once (a second run adds no commit), tables
that do not exist yet are skipped; a run that fails after any step and is run again ends as one clean
run does; the operations the maintain task declares (which the simulator checks) are those tables.
What it does not prove: the Spark SQL path on Unity Catalog (local Spark has no Delta here), or that
VACUUM removed files (it removes only files removed longer ago than the retention, real time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ml_jobs import operations
from ml_jobs.inference import retention
from ml_jobs.runtime import Runtime
from mlops_spec import tables
from mlops_spec.tables import retention_properties
from tests.ml_jobs.conftest import local_runtime, spec_for

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DAYS = 30
AGES = [400, 45, 31, 29, 1]  # days before NOW; the first three are past a 30-day retention


def at(days: int) -> pd.Timestamp:
    return pd.Timestamp(NOW - timedelta(days=days))


def seed(runtime: Runtime, model: str, with_payload: bool = True) -> None:
    ids = [f"r{d}" for d in AGES]
    runtime.write_table(
        pd.DataFrame({"request_id": ids, "timestamp": [at(d) for d in AGES], "prediction": 1}),
        *tables.inference_log(model),
    )
    labels = pd.DataFrame(
        {"customer_id": ids, "churned": 0, "label_timestamp": [at(d).tz_localize(None) for d in AGES]}
    )
    runtime.write_table(labels, *tables.labels(model))
    if with_payload:
        payload = pd.DataFrame(
            {"databricks_request_id": ids, "request_time": [at(d) for d in AGES], "status_code": 200}
        )
        runtime.write_table(payload, *tables.payload(model))


def rows(runtime: Runtime, schema_table: tuple[str, str]) -> list[str]:
    frame, _ = runtime.read_table(*schema_table)
    return sorted(frame.iloc[:, 0])


def commits(runtime: Runtime, schema_table: tuple[str, str]) -> int:
    return runtime.table_version(*schema_table)


@pytest.fixture
def churn(tmp_path: Path) -> tuple:
    spec = spec_for("dev", monitoring={"retention_days": DAYS})
    runtime = local_runtime(tmp_path)
    seed(runtime, spec.model.name)
    return spec, runtime


KEPT = sorted(["r29", "r1"])


def test_rows_past_the_retention_leave_every_table_and_the_properties_are_set_once(churn) -> None:
    spec, runtime = churn
    model = spec.model.name
    kept = [tables.inference_log(model), tables.labels(model), tables.payload(model)]
    out = retention.run_maintain(spec, runtime, now=NOW)
    assert [t["deleted_rows"] for t in out["tables"]] == [3, 3, 3]
    for table in kept:
        assert rows(runtime, table) == KEPT
        config = runtime._delta(*table).metadata().configuration
        assert {k: config[k] for k in retention_properties(DAYS)} == retention_properties(DAYS)
    versions = [commits(runtime, t) for t in kept]
    again = retention.run_maintain(spec, runtime, now=NOW)
    assert [t["deleted_rows"] for t in again["tables"]] == [0, 0, 0]
    assert [commits(runtime, t) for t in kept] == versions  # nothing to change, nothing committed


def test_a_batch_model_keeps_no_payload_and_missing_tables_are_skipped(tmp_path: Path) -> None:
    spec = spec_for("dev", serving={"enabled": False})
    runtime = local_runtime(tmp_path)
    out = retention.run_maintain(spec, runtime, now=NOW)
    assert [t["table"] for t in out["tables"]] == [
        ".".join(tables.inference_log(spec.model.name)),
        ".".join(tables.labels(spec.model.name)),
    ]
    assert all(t["note"] == "no table yet" for t in out["tables"])


@pytest.mark.parametrize("step", ["set_table_properties", "delete", "vacuum"])
def test_a_run_killed_after_any_step_and_run_again_ends_as_one_clean_run(
    churn, step: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from deltalake import DeltaTable
    from deltalake.table import TableAlterer

    spec, runtime = churn
    owner = TableAlterer if step == "set_table_properties" else DeltaTable
    original = getattr(owner, step)
    calls = {"n": 0}

    def dies_on_the_second_table(self, *args, **kwargs):
        calls["n"] += 1
        result = original(self, *args, **kwargs)
        if calls["n"] == 2:  # the step is done on the second table, then the process dies
            raise KeyboardInterrupt("killed")
        return result

    monkeypatch.setattr(owner, step, dies_on_the_second_table)
    with pytest.raises(KeyboardInterrupt):
        retention.run_maintain(spec, runtime, now=NOW)
    monkeypatch.setattr(owner, step, original)
    retention.run_maintain(spec, runtime, now=NOW)

    clean = local_runtime(tmp_path / "clean")
    seed(clean, spec.model.name)
    retention.run_maintain(spec, clean, now=NOW)
    model = spec.model.name
    for table in (tables.inference_log(model), tables.labels(model), tables.payload(model)):
        assert rows(runtime, table) == rows(clean, table) == KEPT
        assert (
            runtime._delta(*table).metadata().configuration == clean._delta(*table).metadata().configuration
        )


def test_the_maintain_task_declares_the_tables_it_keeps() -> None:
    served = spec_for("dev").model
    batch = spec_for("dev", serving={"enabled": False}).model
    name = served.name
    assert {op.target for op in operations.maintain(served, "dev", "c")} == {
        f"c.inference_logs.{name}_predictions",
        f"c.inference_logs.{name}_labels",
        f"c.inference_logs.{name}_payload",
    }
    assert {op.target for op in operations.maintain(batch, "dev", "c")} == {
        f"c.inference_logs.{name}_predictions",
        f"c.inference_logs.{name}_labels",
    }
