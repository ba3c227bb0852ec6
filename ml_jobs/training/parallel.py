"""Hyperparameter trials in parallel on Spark executors (Databricks), in batches that keep the search
reproducible; sequential on one machine (``search.search``, with pruning).

A batch: the driver asks Optuna for ``batch_size`` trials (TPE, seeded), the executors fit their
cross-validation folds (one Spark task per trial), and the driver tells Optuna the results in trial
order and logs one nested MLflow run per trial. So:

* the same seed gives the same trials and the same best trial, however the tasks are scheduled:
  Optuna only ever sees results in trial order, and each fit is seeded;
* a trial's nested run is written once, by the driver, after its task returned: a task Spark runs
  twice (a retried or speculative attempt) still gives one run;
* executors never talk to the tracking server (the driver holds its credentials and connection).

Pruning is not used in this mode: a trial's folds run inside one task, so there is nothing to stop
early from the driver; the cost is bounded by the batch instead. The search can start from the
champion's parameters (``start_from``, enqueued as trial 0) in both modes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import mlflow
import numpy as np
import pandas as pd

from ml_jobs.training import algorithms
from ml_jobs.training.algorithms import Placement
from ml_jobs.training.search import CV_FOLDS, SearchResult, new_study, search
from mlops_spec.config.model_spec import DataSpec


@dataclass(frozen=True)
class TrialTask:
    number: int
    params: dict[str, Any]


@dataclass(frozen=True)
class TrialOutcome:
    number: int
    fold_scores: tuple[float, ...]
    seconds: float

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores))


class Executor(Protocol):
    def map(
        self, fn: Callable[[TrialTask], TrialOutcome], tasks: Sequence[TrialTask]
    ) -> list[TrialOutcome]: ...

    @property
    def parallelism(self) -> int: ...


class InProcess:
    """Runs the tasks one after another in this process: the batch logic without Spark."""

    def __init__(self, parallelism: int = 1) -> None:
        self._parallelism = parallelism

    @property
    def parallelism(self) -> int:
        return self._parallelism

    def map(self, fn: Callable[[TrialTask], TrialOutcome], tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        return [fn(t) for t in tasks]


class SparkExecutor:
    """One Spark task per trial (``RDD.map`` over a partition per trial). ``parallelism`` is the
    cluster's task slots (``SparkContext.defaultParallelism``: total executor cores on a cluster,
    the N of ``local[N]`` locally)."""

    def __init__(self, spark: Any) -> None:
        self._sc = spark.sparkContext

    @property
    def parallelism(self) -> int:
        return max(1, int(self._sc.defaultParallelism))

    def map(self, fn: Callable[[TrialTask], TrialOutcome], tasks: Sequence[TrialTask]) -> list[TrialOutcome]:
        return list(self._sc.parallelize(list(tasks), numSlices=len(tasks)).map(fn).collect())


def fold_evaluator(
    train: pd.DataFrame, data: DataSpec, seed: int, algorithm: str, where: Placement
) -> Callable[[TrialTask], TrialOutcome]:
    """A picklable function of a trial: mean ROC-AUC over the same seeded folds as the local search."""
    from sklearn.model_selection import StratifiedKFold

    from ml_jobs.training.pipeline import features

    x, y = features(train, data), train[data.label].to_numpy().astype(int)
    folds = list(StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed).split(x, y))

    def evaluate(task: TrialTask) -> TrialOutcome:
        from sklearn.metrics import roc_auc_score

        from ml_jobs.training.pipeline import build_pipeline, predict_proba

        start = time.perf_counter()
        scores = []
        for fit_idx, val_idx in folds:
            model = build_pipeline(data, task.params, seed, algorithm, where).fit(x.iloc[fit_idx], y[fit_idx])
            scores.append(float(roc_auc_score(y[val_idx], predict_proba(model, x.iloc[val_idx]))))
        return TrialOutcome(task.number, tuple(scores), time.perf_counter() - start)

    return evaluate


def _log_trial(outcome: TrialOutcome, params: Mapping[str, Any], experiment_id: str | None) -> None:
    with mlflow.start_run(run_name=f"trial-{outcome.number:03d}", nested=True, experiment_id=experiment_id):
        mlflow.log_params(dict(params))
        for step, score in enumerate(
            np.cumsum(outcome.fold_scores) / np.arange(1, len(outcome.fold_scores) + 1)
        ):
            mlflow.log_metric("cv_roc_auc_running", float(score), step=step)
        mlflow.log_metric("cv_roc_auc", outcome.score)
        mlflow.log_metric("trial_seconds", outcome.seconds)
        mlflow.set_tags({"optuna.state": "complete", "optuna.trial": str(outcome.number)})


def batched_search(
    train: pd.DataFrame,
    data: DataSpec,
    n_trials: int,
    seed: int,
    executor: Executor,
    algorithm: str = "hist_gbm",
    where: Placement = algorithms.LOCAL,
    start_from: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Run inside an active MLflow run; trials in batches of ``executor.parallelism``."""
    study = new_study(seed, start_from, algorithm)
    evaluate = fold_evaluator(train, data, seed, algorithm, where)
    parent = mlflow.active_run()
    experiment_id = parent.info.experiment_id if parent else None
    while len(study.trials) < n_trials:
        size = min(executor.parallelism, n_trials - len(study.trials))
        asked = [study.ask() for _ in range(size)]
        tasks = [TrialTask(t.number, algorithms.suggest(algorithm, t)) for t in asked]
        outcomes = {o.number: o for o in executor.map(evaluate, tasks)}
        for trial, task in zip(asked, tasks, strict=True):  # trial order, whatever order tasks finished in
            outcome = outcomes[task.number]
            _log_trial(outcome, task.params, experiment_id)
            study.tell(trial, outcome.score)
    return SearchResult(dict(study.best_params), float(study.best_value), len(study.trials), 0)


def champion_params(client: Any, name: str, algorithm: str) -> dict[str, Any] | None:
    """The champion's searched parameters (``best.*`` params of its training run), typed back from
    MLflow's strings; None without a champion or when it was trained with another algorithm."""
    from ml_jobs.registry import client as reg

    champion = reg.version_by_alias(client, name, reg.CHAMPION)
    if champion is None or not champion.run_id:
        return None
    params = client.get_run(champion.run_id).data.params
    if params.get("algorithm", "hist_gbm") != algorithm:
        return None
    found = {k.removeprefix("best."): _typed(v) for k, v in params.items() if k.startswith("best.")}
    return found if found and algorithms.covers_search_space(algorithm, found) else None


def _typed(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


def run_search(
    runtime: Any,
    train: pd.DataFrame,
    data: DataSpec,
    n_trials: int,
    seed: int,
    algorithm: str,
    where: Placement,
    start_from: Mapping[str, Any] | None = None,
) -> tuple[SearchResult, str]:
    """On Databricks: batches on the cluster's executors; on one machine: sequential, with pruning."""
    if runtime.on_databricks:
        executor = SparkExecutor(runtime.spark())
        found = batched_search(train, data, n_trials, seed, executor, algorithm, where, start_from)
        return found, f"optuna-tpe-spark-batches-of-{executor.parallelism}"
    return search(train, data, n_trials, seed, algorithm, where, start_from), "optuna-tpe"
