"""Trials in parallel on Spark executors: reproducible, each trial recorded once, champion first.

Runs on the shared local Spark session (``local[2]``: two worker threads, so a batch is two tasks).
What it proves: the same seed gives the same trials and best trial on Spark twice and in-process
(where the tasks run does not change what the search finds); one nested MLflow run per trial, also
when an attempt comes back twice (as a retried or speculative Spark task would); the champion's
parameters are trial 0 when they cover the search space; the train job takes the Spark path on
Databricks and the sequential one elsewhere.
What it does not prove: speed-up on a real cluster (``make bench`` measures local figures), or that
Databricks schedules one task per trial (Spark's documented ``parallelize`` with one slice each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest

from ml_jobs.data.generate import generate_churn
from ml_jobs.registry.client import connect
from ml_jobs.training import parallel
from ml_jobs.training.parallel import InProcess, SparkExecutor, TrialOutcome, TrialTask, batched_search
from ml_jobs.training.search import SearchResult

from .conftest import local_runtime, spec_for

pytestmark = pytest.mark.spark
TRIALS, SEED = 4, 13


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    runtime = local_runtime(Path(tmp_path_factory.mktemp("parallel")))
    connect(runtime)
    experiment = mlflow.set_experiment("parallel-search").experiment_id
    return {"data": spec_for("dev").model.data, "train": generate_churn(900, seed=4), "exp": experiment}


def run(setup: dict[str, Any], executor: Any, start_from: dict | None = None) -> tuple[SearchResult, str]:
    with mlflow.start_run(experiment_id=setup["exp"]) as parent:
        found = batched_search(setup["train"], setup["data"], TRIALS, SEED, executor, start_from=start_from)
    return found, parent.info.run_id


def trial_runs(setup: dict[str, Any], parent: str) -> list[Any]:
    return mlflow.search_runs(
        [setup["exp"]], filter_string=f"tags.mlflow.parentRunId = '{parent}'", output_format="list"
    )


@pytest.fixture(scope="module")
def on_spark(setup: dict[str, Any], spark: Any) -> list[tuple[SearchResult, str]]:
    return [run(setup, SparkExecutor(spark)) for _ in range(2)]


def test_batches_use_every_worker_thread(spark: Any) -> None:
    assert SparkExecutor(spark).parallelism == 2


def test_same_seed_same_best_trial_on_spark_twice_and_in_process(
    setup: dict[str, Any], on_spark: list[tuple[SearchResult, str]]
) -> None:
    (first, _), (second, _) = on_spark
    local, _ = run(setup, InProcess(parallelism=2))
    assert first == second == local
    assert first.n_trials == TRIALS


def test_each_trial_is_one_nested_run(
    setup: dict[str, Any], on_spark: list[tuple[SearchResult, str]]
) -> None:
    found, parent = on_spark[0]
    runs = trial_runs(setup, parent)
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == [str(i) for i in range(TRIALS)]
    best = max(runs, key=lambda r: r.data.metrics["cv_roc_auc"])
    assert best.data.metrics["cv_roc_auc"] == pytest.approx(found.best_cv_roc_auc)
    assert {k: str(v) for k, v in found.best_params.items()} == best.data.params


@dataclass
class Twice:
    """Every task comes back twice, as from a retried or speculative attempt."""

    parallelism: int = 2

    def map(self, fn: Callable[[TrialTask], TrialOutcome], tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        return [fn(t) for t in tasks for _ in range(2)]


def test_an_attempt_that_comes_back_twice_is_still_one_run(setup: dict[str, Any]) -> None:
    found, parent = run(setup, Twice())
    assert len(trial_runs(setup, parent)) == TRIALS == found.n_trials


def test_the_champions_parameters_are_trial_zero(setup: dict[str, Any]) -> None:
    champion = {
        "learning_rate": 0.05,
        "max_iter": 75,
        "max_leaf_nodes": 16,
        "min_samples_leaf": 20,
        "l2_regularization": 0.01,
    }
    _, parent = run(setup, InProcess(2), start_from=champion)
    trial0 = next(r for r in trial_runs(setup, parent) if r.data.tags["optuna.trial"] == "0")
    assert trial0.data.params == {k: str(v) for k, v in champion.items()}
    _, parent = run(setup, InProcess(2), start_from={"max_iter": 75})  # another search space: ignored
    trial0 = next(r for r in trial_runs(setup, parent) if r.data.tags["optuna.trial"] == "0")
    assert trial0.data.params != {"max_iter": "75"}


@dataclass
class FakeRuntime:
    on_databricks: bool
    session: Any

    def spark(self) -> Any:
        return self.session


def test_the_train_job_searches_on_spark_on_databricks_and_sequentially_elsewhere(
    setup: dict[str, Any], spark: Any
) -> None:
    how = []
    for on_databricks in (True, False):
        with mlflow.start_run(experiment_id=setup["exp"]):
            _, label = parallel.run_search(
                FakeRuntime(on_databricks, spark),
                setup["train"],
                setup["data"],
                2,
                SEED,
                "hist_gbm",
                parallel.algorithms.LOCAL,
            )
        how.append(label)
    assert how == ["optuna-tpe-spark-batches-of-2", "optuna-tpe"]
