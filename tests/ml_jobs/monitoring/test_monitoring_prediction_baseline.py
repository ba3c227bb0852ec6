"""Prediction drift against the serving version's own held-out predictions (issue 17).

Before, the score reference was profiled from the first logged window: drift on day 1 was invisible
(the window was compared with itself) and after a promotion the baseline still belonged to the old
champion. Now each version stores the profile of its held-out scores when it is trained, and the
monitor judges only the rows that version served against it.

The first tests call ``run_monitoring`` directly on generated logs. The last module fixture runs
the real jobs on the embedded defaults (Delta tables, MLflow on SQLite, scikit-learn): train and
promote v1, score a drifted day, monitor; train v2, make it the champion, score a normal day,
monitor. What that proves: the artifact is written by training, read by the monitor for the current
champion, and the windows hold only that champion's rows. What it does not: Databricks serving's
inference tables (the local log is written by ``score_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ml_jobs.monitoring import synthetic
from ml_jobs.monitoring.profile import prediction_profile
from ml_jobs.monitoring.run import run_monitoring
from mlops_spec.config.monitoring import MonitoringSpec

NUMERIC = ["num_00", "num_01", "num_02", "num_03"]
CATEGORICAL = ["cat_0", "cat_1"]
KW = {"numeric_features": NUMERIC, "categorical_features": CATEGORICAL}


def _held_out_scores(seed: int, n: int = 5_000) -> np.ndarray:
    """Scores of the synthetic model on an undrifted sample: what its held-out split looks like."""
    return synthetic.inference_log(n, seed=seed)["score"].to_numpy()


def _scores_moved(log: pd.DataFrame, by: float) -> pd.DataFrame:
    """The same requests scored ``by`` higher on the logit scale (as if the model saw other customers)."""
    logit = np.log(log["score"] / (1 - log["score"])) + by
    score = 1 / (1 + np.exp(-logit))
    return log.assign(score=score, prediction=(score >= 0.5).astype(np.int64))


def _score_drift(result) -> bool:
    return bool(result.windows[0].baseline.drifted.get("score"))


def test_score_drift_on_the_first_day_is_visible_against_the_held_out_baseline() -> None:
    reference = synthetic.features(5_000, n_numeric=4, n_categorical=2, seed=21)
    day_one = _scores_moved(synthetic.inference_log(3_000, seed=5), by=1.0)
    baseline = prediction_profile(_held_out_scores(seed=7), threshold=0.5)
    with_baseline = run_monitoring(
        reference, day_one, None, MonitoringSpec(), **KW, prediction_reference=baseline
    )
    assert _score_drift(with_baseline) and with_baseline.windows[0].baseline.prediction_drift
    # The former behaviour, for contrast: the first window is its own score reference.
    without = run_monitoring(reference, day_one, None, MonitoringSpec(), **KW)
    assert not _score_drift(without)


def test_undrifted_scores_raise_nothing_against_the_held_out_baseline() -> None:
    reference = synthetic.features(5_000, n_numeric=4, n_categorical=2, seed=21)
    day_one = synthetic.inference_log(3_000, seed=5)
    baseline = prediction_profile(_held_out_scores(seed=7), threshold=0.5)
    result = run_monitoring(reference, day_one, None, MonitoringSpec(), **KW, prediction_reference=baseline)
    assert not any(result.windows[0].baseline.drifted.values())


def test_windows_hold_only_the_rows_the_monitored_version_served() -> None:
    reference = synthetic.features(5_000, n_numeric=4, n_categorical=2, seed=21)
    old = _scores_moved(synthetic.inference_log(2_000, seed=5), by=1.0).assign(model_version="1")
    new = synthetic.inference_log(1_500, seed=6).assign(model_version="2")
    log = pd.concat([old, new], ignore_index=True).sort_values("timestamp", ignore_index=True)
    baseline = prediction_profile(_held_out_scores(seed=7), threshold=0.5)
    result = run_monitoring(
        reference, log, None, MonitoringSpec(), **KW, prediction_reference=baseline, served_version="2"
    )
    assert [w.n_rows for w in result.windows] == [1_500]
    assert not _score_drift(result)  # version 1's drifted scores are not version 2's


# --- the real jobs -------------------------------------------------------------------------------


@dataclass
class Story:
    versions: dict[str, str]
    first: Any
    second: Any
    profiles: dict[str, Any]
    log: pd.DataFrame


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    from ml_jobs.data.generate import DriftSpec, generate_churn
    from ml_jobs.monitoring.job import monitor
    from ml_jobs.monitoring.profile import load_prediction_profile
    from ml_jobs.registry import client as reg
    from ml_jobs.registry.promotion import promote
    from ml_jobs.scoring import score_batch
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version
    from mlops_spec import tables

    from ..conftest import local_runtime, spec_for

    root: Path = tmp_path_factory.mktemp("prediction-baseline")
    spec = spec_for("dev", monitoring={"min_samples": 300})
    runtime = local_runtime(root, "dev")
    client = reg.connect(runtime)
    name = runtime.registered_name(spec.model.name)
    weak = {"max_iter": 15, "max_leaf_nodes": 4, "learning_rate": 0.1}
    start = datetime(2026, 3, 1, tzinfo=UTC)

    training = generate_churn(2_000, 1, start - timedelta(days=10), 10)
    version = runtime.write_table(training, "features", spec.model.data.table, mode="overwrite")
    v1 = train_model(spec, runtime, client, data_version=version, fixed_params=weak)
    validate_version(spec, runtime, client, v1.version)
    promote(spec, runtime, client, version=v1.version, actor="test")
    # Day 1: prices and support calls up, so the served scores move away from v1's held-out ones.
    drift = DriftSpec(start_day=0, mean_shift={"monthly_charges": 1.5, "support_calls": 1.5})
    score_batch(spec, runtime, client, generate_churn(1_500, 2, start, 1, drift))
    first = monitor(spec, runtime, client, now=start + timedelta(days=1))

    more = generate_churn(3_000, 3, start - timedelta(days=10), 10)
    version = runtime.write_table(more, "features", spec.model.data.table, mode="overwrite")
    v2 = train_model(spec, runtime, client, data_version=version, fixed_params={**weak, "max_iter": 25})
    # Promotion's gates are tested elsewhere; here only "v2 is the champion" matters.
    client.set_registered_model_alias(name, reg.CHAMPION, v2.version)
    score_batch(spec, runtime, client, generate_churn(1_500, 4, start + timedelta(days=1), 1))
    second = monitor(spec, runtime, client, now=start + timedelta(days=2))
    log, _ = runtime.read_table(*tables.inference_log(spec.model.name))
    return Story(
        {"v1": v1.version, "v2": v2.version},
        first,
        second,
        {
            v: load_prediction_profile(client.get_model_version(name, v).run_id)
            for v in (v1.version, v2.version)
        },
        log,
    )


def test_training_stores_a_prediction_baseline_with_every_version(story: Story) -> None:
    for version, profile in story.profiles.items():
        assert profile is not None, version
        assert set(profile.numeric) == {"score"} and set(profile.categorical) == {"prediction"}
    assert story.profiles[story.versions["v1"]] != story.profiles[story.versions["v2"]]


def test_day_one_score_drift_is_found_against_the_champions_baseline(story: Story) -> None:
    [window] = story.first.result.windows
    assert window.baseline.drifted["score"] and window.baseline.prediction_drift
    assert (
        story.first.result.profile.numeric["score"] == story.profiles[story.versions["v1"]].numeric["score"]
    )


def test_after_a_promotion_the_new_champion_is_judged_on_its_rows_and_its_baseline(story: Story) -> None:
    result = story.second.result
    served_by_v2 = int((story.log["model_version"].astype(str) == story.versions["v2"]).sum())
    assert [w.n_rows for w in result.windows] == [served_by_v2]
    assert result.profile.numeric["score"] == story.profiles[story.versions["v2"]].numeric["score"]
    assert set(result.metrics["model_version"]) == {story.versions["v2"]}
    assert not result.windows[0].baseline.drifted["score"]
