"""Late labels restate an earlier window's realised performance in the metrics table (issue 14's gap).

Proves, on real ``monitor`` runs over the chaos "production" world (four daily windows, labels for
every request): when the labels of day 1 arrive only after the monitor judged that window, the next
run updates that window's performance rows (MERGE on the window's key, updating value, threshold,
breach and status) to what a monitor that had every label from the start records; a re-run changes
nothing; a run killed at that MERGE then re-run, and two runs at once, end the same. Does not prove
Spark's MERGE on Databricks (the same statement, cited in ``ml_jobs.runtime``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd

from ml_jobs.monitoring.schema import LogSchema

from . import harness as h
from .conftest import PRODUCTION_START, Worlds, _runtime
from .test_concurrency import pair

MONITOR = ("--no-retrain",)
METRICS = f"monitoring.{h.MODEL}_drift_metrics"
MERGE_AT = f"table.merge:{METRICS}@1"
DAY1 = (PRODUCTION_START + timedelta(days=1)).isoformat()


def _performance(root: Path) -> list[dict]:
    rows = h.tables_state(root)[METRICS]
    return [r for r in rows if r["column"] == "__performance__"]


def _day1_auc(root: Path) -> float | str | None:
    rows = [r for r in _performance(root) if r["metric"] == "roc_auc" and r["window_start"] == DAY1]
    assert len(rows) == 1, rows
    return rows[0]["value"]


def _withhold_day1_labels(root: Path) -> pd.DataFrame:
    """Take day 1's labels out of the labels table (they have not arrived yet); returns them."""
    runtime, schema = _runtime(root), LogSchema()
    log, _ = runtime.read_table("inference_logs", f"{h.MODEL}_predictions")
    labels, _ = runtime.read_table("inference_logs", f"{h.MODEL}_labels")
    ts = pd.to_datetime(log[schema.timestamp], utc=True)
    day1 = set(
        log.loc[(ts >= pd.Timestamp(DAY1)) & (ts < pd.Timestamp(DAY1) + timedelta(days=1)), "request_id"]
    )
    assert day1
    late = labels[labels["request_id"].isin(day1)]
    runtime.write_table(
        labels[~labels["request_id"].isin(day1)], "inference_logs", f"{h.MODEL}_labels", "overwrite"
    )
    return late


def _arrive(root: Path, late: pd.DataFrame) -> None:
    _runtime(root).write_table(late, "inference_logs", f"{h.MODEL}_labels", "append")


def _monitor(root: Path, **kw) -> h.Run:
    return h.expect_ok(h.run_job("monitor", MONITOR, root, **kw), codes=(0, 7))


def _late_world(worlds: Worlds, root: Path) -> Path:
    """Monitored once without day 1's labels; those labels have arrived since."""
    worlds.copy("production", root)
    late = _withhold_day1_labels(root)
    _monitor(root)
    assert _day1_auc(root) == "nan"  # judged without its labels: no realised performance
    _arrive(root, late)
    return root


def test_late_labels_update_an_earlier_windows_performance_once(worlds: Worlds, tmp_path: Path) -> None:
    full = worlds.copy("production", tmp_path / "full")
    _monitor(full)
    expected = _performance(full)
    assert _day1_auc(full) != "nan"

    root = _late_world(worlds, tmp_path / "late")
    _monitor(root)
    assert _performance(root) == expected
    version = _runtime(root).table_version(*METRICS.split("."))
    _monitor(root)  # a re-run: nothing new to say
    assert _performance(root) == expected
    assert _runtime(root).table_version(*METRICS.split(".")) == version
    assert not h.violations(root)


def test_late_labels_killed_at_the_update_or_run_twice_at_once_end_as_one_run(
    worlds: Worlds, tmp_path: Path
) -> None:
    full = worlds.copy("production", tmp_path / "full")
    _monitor(full)
    expected = _performance(full)
    base = _late_world(worlds, tmp_path / "late")

    killed = Path(str(base) + "-killed")
    import shutil

    shutil.copytree(base, killed)
    run = h.run_job("monitor", MONITOR, killed, fault_at=MERGE_AT)
    assert run.killed, f"monitor was not killed at {MERGE_AT}: exit {run.code}"
    _monitor(killed)
    assert _performance(killed) == expected
    assert not h.violations(killed)

    twice = Path(str(base) + "-twice")
    shutil.copytree(base, twice)
    runs = pair("monitor", twice, MONITOR, MONITOR, MERGE_AT)
    assert all(r.code in (0, 7) for r in runs), [r.err[-1500:] for r in runs]
    assert _performance(twice) == expected
    assert not h.violations(twice)
