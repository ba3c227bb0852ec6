"""Bayesian hyperparameter search (Optuna TPE + median pruning); every trial is a nested MLflow run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ml_jobs.training import algorithms
from ml_jobs.training.algorithms import LOCAL, Placement
from ml_jobs.training.pipeline import build_pipeline, features, predict_proba
from mlops_spec.config.model_spec import DataSpec

CV_FOLDS = 3


@dataclass(frozen=True)
class SearchResult:
    best_params: dict[str, Any]
    best_cv_roc_auc: float
    n_trials: int
    n_pruned: int


def _objective(
    train: pd.DataFrame, spec: DataSpec, seed: int, algorithm: str, where: Placement
) -> Callable[[optuna.Trial], float]:
    from sklearn.metrics import roc_auc_score

    x, y = features(train, spec), train[spec.label].to_numpy().astype(int)
    folds = list(StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed).split(x, y))

    def objective(trial: optuna.Trial) -> float:
        params = algorithms.suggest(algorithm, trial)
        parent = mlflow.active_run()
        experiment_id = parent.info.experiment_id if parent else None
        with mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True, experiment_id=experiment_id):
            mlflow.log_params(params)
            scores: list[float] = []
            for step, (fit_idx, val_idx) in enumerate(folds):
                model = build_pipeline(spec, params, seed, algorithm, where).fit(x.iloc[fit_idx], y[fit_idx])
                scores.append(roc_auc_score(y[val_idx], predict_proba(model, x.iloc[val_idx])))
                trial.report(float(np.mean(scores)), step)
                mlflow.log_metric("cv_roc_auc_running", float(np.mean(scores)), step=step)
                if trial.should_prune():
                    mlflow.set_tag("optuna.state", "pruned")
                    raise optuna.TrialPruned()
            mlflow.set_tag("optuna.state", "complete")
            mlflow.log_metric("cv_roc_auc", float(np.mean(scores)))
        return float(np.mean(scores))

    return objective


def new_study(seed: int, start_from: Mapping[str, Any] | None, algorithm: str, pruner: Any = None) -> Any:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner
    )
    if start_from and algorithms.covers_search_space(algorithm, start_from):
        study.enqueue_trial(dict(start_from), user_attrs={"source": "champion"})
    return study


def search(
    train: pd.DataFrame,
    spec: DataSpec,
    n_trials: int,
    seed: int,
    algorithm: str = "hist_gbm",
    where: Placement = LOCAL,
    start_from: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Run inside an active MLflow run; returns the best parameters (same seed, same answer).
    ``start_from`` (the champion's parameters) is tried first when it covers the search space."""
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    study = new_study(seed, start_from, algorithm, pruner)
    study.optimize(_objective(train, spec, seed, algorithm, where), n_trials=n_trials, n_jobs=1)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return SearchResult(dict(study.best_params), float(study.best_value), len(study.trials), pruned)
