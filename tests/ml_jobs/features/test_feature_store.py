"""Feature and label tables on deltalake: constraints refuse bad rows at write time, and the feature job
is exactly-once (a retry, a kill at any point and a concurrent run all end as one clean run).

Proves it for the local path (delta-rs MERGE, its constraint checks, real processes killed with SIGKILL).
Does not prove the Spark MERGE on Databricks (no workspace here); that path shares the SQL and the keys.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ml_jobs.data.generate import generate_churn
from ml_jobs.errors import BadInput
from ml_jobs.features import store
from ml_jobs.features.entry import features_main, refresh_tables
from ml_jobs.features.job import freshness, refresh, write_labels
from mlops_spec.config.loader import load_models
from tests.ml_jobs.conftest import local_runtime, spec_for

TABLE = "customer_features"


def _table():
    return {t.name: t for m in load_models("dev") for t in (m.features.tables if m.features else ())}[TABLE]


def _source(runtime, rows: int = 300, seed: int = 3) -> pd.DataFrame:
    frame = generate_churn(rows, seed=seed)
    runtime.write_table(frame, "features", _table().source, mode="overwrite")
    return frame


def _content(runtime) -> pd.DataFrame:
    frame, _ = store.read(runtime, TABLE)
    return frame.sort_values(["customer_id", "event_ts"]).reset_index(drop=True)


def test_refresh_twice_writes_once(tmp_path: Path) -> None:
    runtime = local_runtime(tmp_path)
    _source(runtime)
    first = refresh(runtime, _table())
    second = refresh(runtime, _table())
    assert first["inserted"] == 300 and second["inserted"] == 0
    assert (
        second["version"] == first["version"]
    )  # an empty MERGE commits nothing: training sees no new version


def test_new_source_rows_are_added_and_old_values_never_restated(tmp_path: Path) -> None:
    runtime = local_runtime(tmp_path)
    frame = _source(runtime, 100)
    refresh(runtime, _table())
    changed = frame.copy()
    changed["monthly_charges"] = -1.0  # a restated past observation
    more = generate_churn(50, seed=9)
    runtime.write_table(pd.concat([changed, more]), "features", _table().source, mode="overwrite")
    assert refresh(runtime, _table())["inserted"] == 50
    out = _content(runtime)
    assert len(out) == 150 and (out["monthly_charges"] != -1.0).all()


def test_fails_a_null_key_with_the_table_and_constraint_named(tmp_path: Path) -> None:
    runtime = local_runtime(tmp_path)
    frame = _source(runtime, 10)
    layout = store.feature_layout(_table())
    store.ensure_table(runtime, layout)
    bad = frame.copy().astype({"customer_id": object})
    bad.loc[3, "customer_id"] = None
    with pytest.raises(
        BadInput, match=r"refused by the constraints of features\.customer_features.*customer_id NOT NULL"
    ):
        store.merge(runtime, layout, bad)
    assert _content(runtime).empty  # the whole write was refused


def test_fails_a_label_outside_0_1_in_the_label_table(tmp_path: Path) -> None:
    runtime = local_runtime(tmp_path)
    model = spec_for("dev").model
    rows = generate_churn(10, seed=1)[["customer_id", "event_ts", "churned"]]
    assert write_labels(runtime, model, rows) == 10
    bad = generate_churn(5, seed=2)[["customer_id", "event_ts", "churned"]]
    bad.loc[2, "churned"] = 2
    with pytest.raises(BadInput, match=r"churn_labels.*churned_is_binary: churned IN \(0, 1\)"):
        write_labels(runtime, model, bad)
    frame, _ = store.read(runtime, "churn_labels")
    assert len(frame) == 10


def test_fails_an_unknown_table_with_what_is_declared(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"unknown feature tables.*declared: customer_features"):
        refresh_tables("dev", ["nope"], local_root=str(tmp_path))


def test_freshness_compares_the_newest_row_with_the_expected_age(tmp_path: Path) -> None:
    runtime = local_runtime(tmp_path)
    assert freshness(runtime, [_table()])[0]["status"] == "missing"
    frame = _source(runtime, 50)
    refresh(runtime, _table())
    newest = pd.Timestamp(frame["event_ts"].max())
    fresh = freshness(runtime, [_table()], now=(newest + pd.Timedelta(hours=35)).to_pydatetime())[0]
    stale = freshness(runtime, [_table()], now=(newest + pd.Timedelta(hours=37)).to_pydatetime())[0]
    assert (fresh["status"], stale["status"]) == ("fresh", "stale")
    assert stale["age_hours"] == pytest.approx(37) and stale["max_age_hours"] == 36


def _job(root: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ml_jobs.features.entry",
        "--env",
        "dev",
        "--tables",
        TABLE,
        "--local-root",
        str(root),
    ]


def _env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DATABRICKS_RUNTIME_VERSION")
    }


def test_killed_at_any_point_then_rerun_ends_as_one_clean_run(tmp_path: Path) -> None:
    clean_root, killed_root = tmp_path / "clean", tmp_path / "killed"
    for root in (clean_root, killed_root):
        _source(local_runtime(root), 2000)
    assert features_main(["--env", "dev", "--tables", TABLE, "--local-root", str(clean_root)]) == 0
    rng = random.Random(5)
    for _ in range(4):  # SIGKILL at a random moment, several times, then one run to the end
        proc = subprocess.Popen(
            _job(killed_root), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert subprocess.run(_job(killed_root), env=_env(), capture_output=True).returncode == 0
    pd.testing.assert_frame_equal(_content(local_runtime(killed_root)), _content(local_runtime(clean_root)))


def test_two_concurrent_runs_end_as_one(tmp_path: Path) -> None:
    clean_root, twice_root = tmp_path / "clean", tmp_path / "twice"
    for root in (clean_root, twice_root):
        _source(local_runtime(root), 2000)
    assert features_main(["--env", "dev", "--tables", TABLE, "--local-root", str(clean_root)]) == 0
    procs = [
        subprocess.Popen(_job(twice_root), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    codes = [p.wait() for p in procs]
    assert codes == [0, 0], [p.stderr.read().decode()[-2000:] for p in procs if p.stderr]
    pd.testing.assert_frame_equal(_content(local_runtime(twice_root)), _content(local_runtime(clean_root)))


def test_the_feature_write_is_the_runtime_merge_a_fault_boundary_killed_there_then_rerun_ends_as_one(
    tmp_path: Path,
) -> None:
    """The feature job writes through ``Runtime.merge_table`` (one MERGE mechanism for every job): it
    passes that write's fault boundary, and a SIGKILL exactly there, then a re-run, leaves the table of
    one clean run. (A MERGE of its own, as ``store`` had, passed no boundary: the kill never happened.)"""
    clean_root, killed_root = tmp_path / "clean", tmp_path / "killed"
    for root in (clean_root, killed_root):
        _source(local_runtime(root), 500)
    assert features_main(["--env", "dev", "--tables", TABLE, "--local-root", str(clean_root)]) == 0
    at = {"MLOPS_FAULT_AT": f"table.merge:features.{TABLE}@1"}
    killed = subprocess.run(_job(killed_root), env={**_env(), **at}, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-1500:]
    assert subprocess.run(_job(killed_root), env=_env(), capture_output=True).returncode == 0
    pd.testing.assert_frame_equal(_content(local_runtime(killed_root)), _content(local_runtime(clean_root)))


def test_a_marked_label_write_is_found_by_its_marker_and_not_written_twice(tmp_path: Path) -> None:
    """``store.merge`` carries the exactly-once write's commit marker: the same marked write again adds
    nothing, even when the rows' keys would be new (the marker says this attempt already committed)."""
    runtime = local_runtime(tmp_path)
    layout = store.label_layout("churn_labels", spec_for("dev").model.data)
    store.ensure_table(runtime, layout)
    rows = generate_churn(20, seed=4)[["customer_id", "event_ts", "churned"]]
    assert store.merge(runtime, layout, rows, marker="retrain:r1") == 20
    assert store.merge(runtime, layout, generate_churn(5, seed=8), marker="retrain:r1") == 20
    assert len(store.read(runtime, "churn_labels")[0]) == 20
