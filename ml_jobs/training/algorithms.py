"""The algorithms a model spec can choose (``training.algorithm``): estimator, search space, device.

Every algorithm is a scikit-learn classifier at the end of the same preprocessing pipeline
(``pipeline.build_pipeline``), so the model is saved, loaded, served and scored through one path:
``mlflow.sklearn`` in skops format. XGBoost's ``XGBClassifier`` is a scikit-learn estimator whose
booster skops stores as XGBoost's own raw model bytes (``Booster.__getstate__``), so nothing is
pickled.

Device: XGBoost trains with ``device="cuda"`` when the job runs on Databricks on the GPU training
policy (``training.compute: gpu``), on the CPU everywhere else (one machine, tests). The saved model
is always switched back to ``device="cpu"``: serving and batch scoring run on CPU clusters
(XGBoost, "XGBoost GPU Support": a model trained on a GPU predicts on a CPU once its device is
``cpu``; https://xgboost.readthedocs.io/en/stable/gpu/index.html).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import optuna

from mlops_spec.config.model_spec import GPU_ALGORITHMS, Algorithm, TrainingSpec

Device = Literal["cpu", "cuda"]

LOCAL_THREADS = 1
"""One OpenMP thread per fit on one machine: the repo's setting (two shared cores; tests and
benchmarks hold scikit-learn to it with threadpoolctl, XGBoost takes it as ``n_jobs``)."""


@dataclass(frozen=True)
class Placement:
    """Where a fit runs: the XGBoost device and thread count (scikit-learn's GBM reads neither)."""

    device: Device = "cpu"
    n_jobs: int | None = LOCAL_THREADS
    """None: every core of the node (XGBoost's default)."""


LOCAL = Placement()


def device_for(algorithm: Algorithm, compute: str, on_databricks: bool) -> Device:
    """``cuda`` only for a GPU-capable algorithm, on the GPU policy, on Databricks; else ``cpu``.

    Off Databricks the job's compute profile is not the machine it runs on (a laptop, CI): the GPU
    policy is what the train job gets on a cluster, so locally it means nothing.
    """
    if algorithm in GPU_ALGORITHMS and compute == "gpu" and on_databricks:
        return "cuda"
    return "cpu"


def placement(training: TrainingSpec, on_databricks: bool) -> Placement:
    return Placement(
        device_for(training.algorithm, training.compute, on_databricks),
        None if on_databricks else LOCAL_THREADS,
    )


def _suggest_hist_gbm(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 250, step=25),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 48),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 10, 80),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 1.0, log=True),
    }


def _suggest_xgboost(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 50, 250, step=25),
        "max_depth": trial.suggest_int("max_depth", 3, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.6, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _hist_gbm(params: Mapping[str, Any], seed: int, where: Placement) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    # early_stopping off: its internal validation split would make results depend on data size.
    return HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **params)


def _xgboost(params: Mapping[str, Any], seed: int, where: Placement) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(
        tree_method="hist",
        device=where.device,
        n_jobs=where.n_jobs,
        random_state=seed,
        eval_metric="logloss",
        **params,
    )


@dataclass(frozen=True)
class AlgorithmImpl:
    build: Callable[[Mapping[str, Any], int, Placement], Any]
    suggest: Callable[[optuna.trial.BaseTrial], dict[str, Any]]
    skops_trusted_types: tuple[str, ...]
    """Types skops may load for this model: ones this job has just trained itself."""
    pip_packages: tuple[str, ...] = ()
    """Model-serving requirements beyond MLflow's scikit-learn and skops ones."""
    fixed: tuple[str, ...] = ()
    """Set by the builder itself: a ``--param`` may not override them."""


_SKOPS_BASE = ("numpy.dtype",)
ALGORITHMS: dict[str, AlgorithmImpl] = {
    "hist_gbm": AlgorithmImpl(
        _hist_gbm,
        _suggest_hist_gbm,
        (*_SKOPS_BASE, "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"),
        fixed=("random_state", "early_stopping"),
    ),
    "xgboost": AlgorithmImpl(
        _xgboost,
        _suggest_xgboost,
        (*_SKOPS_BASE, "xgboost.sklearn.XGBClassifier", "xgboost.core.Booster"),
        ("xgboost",),
        fixed=("tree_method", "device", "n_jobs", "random_state", "eval_metric"),
    ),
}


def impl(algorithm: str) -> AlgorithmImpl:
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; allowed: {', '.join(sorted(ALGORITHMS))}"
        ) from None


def estimator(algorithm: str, params: Mapping[str, Any], seed: int, where: Placement = LOCAL) -> Any:
    return impl(algorithm).build(params, seed, where)


def suggest(algorithm: str, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return impl(algorithm).suggest(trial)


def covers_search_space(algorithm: str, params: Mapping[str, Any]) -> bool:
    """True when ``params`` name every parameter the algorithm's search suggests (a champion trained
    with another algorithm or an older search space is not a starting point)."""
    try:
        suggest(algorithm, optuna.trial.FixedTrial(dict(params)))
    except (ValueError, KeyError):
        return False
    return True


def for_serving(model: Any) -> Any:
    """The fitted pipeline with its estimator set to predict on the CPU (no-op for scikit-learn's GBM)."""
    final = model.steps[-1][1]
    if "device" in final.get_params():
        final.set_params(device="cpu", n_jobs=None)
    return model


def pip_requirements(algorithm: str) -> list[str]:
    """Pinned from this process: inferring them starts a subprocess per model (about 6 s)."""
    import mlflow

    reqs: list[str] = list(mlflow.sklearn.get_default_pip_requirements(include_skops=True))
    for package in impl(algorithm).pip_packages:
        from importlib.metadata import version

        reqs.append(f"{package}=={version(package)}")
    return reqs
