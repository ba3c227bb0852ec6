"""Retraining and the scheduled training set of a model with feature tables (issue 18's gap).

``marketing_churn_gbm`` declares feature tables: its training table is rebuilt by the scheduled
``training-set`` job from its label table by point-in-time lookup, overwriting it. Retraining must
add its production rows where that rebuild finds them (the label table), exactly once, and a model
without feature tables keeps appending to its training table.

Proves, on real job runs (``python -m ml_jobs.retrain`` over the chaos worlds, the training-set
entry point after it): the retraining's rows survive the next scheduled rebuild, which then writes
nothing new (the challenger's training version is the rebuilt one); a kill between the label MERGE
and the rebuild, then a re-run, ends as one clean run. Does not prove Spark's MERGE on Databricks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ml_jobs.features.entry import training_set_main

from . import harness as h
from .conftest import SCENARIOS, References, Worlds, _runtime, _spec
from .test_kill_and_rerun import kill_and_rerun

KEYS = ["customer_id", "event_ts"]


def _keys(root: Path, table: str) -> set[tuple[str, str]]:
    frame, _ = _runtime(root).read_table("features", table)
    return {
        (str(i), pd.Timestamp(t).isoformat())
        for i, t in zip(frame["customer_id"], frame["event_ts"], strict=True)
    }


def test_a_retrainings_rows_survive_the_scheduled_training_set_rebuild(
    worlds: Worlds, references: References, tmp_path: Path
) -> None:
    scenario = SCENARIOS["retrain"]
    root = worlds.copy(scenario.world, tmp_path / "w")
    labels_before = _keys(root, "churn_labels")
    run = h.expect_ok(h.run_job(scenario.job, scenario.args, root, env=scenario.env))
    record = run.result()
    assert record["appended_rows"] > 0, record
    added = _keys(root, "churn_labels") - labels_before
    assert len(added) == record["appended_rows"]  # the new labels, once each
    trained_on = _keys(root, "churn_training")
    assert added <= trained_on  # the challenger's training set has them

    argv = ["--model", h.MODEL, "--env", "dev", "--local-root", str(root)]
    version = _runtime(root).table_version("features", "churn_training")
    assert training_set_main(argv) == 0  # the scheduled rebuild, from labels plus features
    assert added <= _keys(root, "churn_training"), "the scheduled rebuild lost the retraining's rows"
    assert _runtime(root).table_version("features", "churn_training") == version == record["training_version"]
    assert not h.violations(root)


def test_a_retraining_killed_between_its_labels_and_the_rebuild_converges_on_rerun(
    worlds: Worlds, references: References, tmp_path: Path
) -> None:
    at = "table.overwrite:features.churn_training@1"
    boundaries = references.get("retrain").boundaries
    assert "table.merge:features.churn_labels@1" in boundaries and at in boundaries, boundaries
    assert boundaries.index("table.merge:features.churn_labels@1") < boundaries.index(at)
    problems = kill_and_rerun(worlds, references, "retrain", tmp_path / "w", at=at)
    assert not problems, "\n\n".join(problems)


def test_a_model_without_feature_tables_appends_to_its_training_table_once(
    worlds: Worlds, tmp_path: Path
) -> None:
    """Today's behaviour kept: production rows MERGEd into ``data.table``; the label table untouched."""
    from ml_jobs.registry.client import connect
    from ml_jobs.retraining.retrain import retrain

    root = worlds.copy("production", tmp_path / "w")
    base = _spec()
    spec = replace(base, model=base.model.model_copy(update={"features": None}))
    runtime = _runtime(root)
    client = connect(runtime)
    labels_before, training_before = _keys(root, "churn_labels"), _keys(root, "churn_training")
    params = {"max_iter": 30, "max_leaf_nodes": 8}
    record = retrain(spec, runtime, client, trigger="manual", fixed_params=params, request_id="plain-1")
    added = _keys(root, "churn_training") - training_before
    assert record.appended_rows > 0 and len(added) == record.appended_rows
    assert _keys(root, "churn_labels") == labels_before
    again = retrain(spec, runtime, client, trigger="manual", fixed_params=params, request_id="plain-2")
    assert again.appended_rows == 0 and _keys(root, "churn_training") - training_before == added
