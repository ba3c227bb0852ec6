"""The spec chooses the algorithm; XGBoost picks its device from where the job runs.

What it proves: the device decision (``cuda`` only for XGBoost on the GPU policy on Databricks), that
the decision reaches every XGBoost estimator the train job builds (each search trial and the final
fit), that the saved model predicts on the CPU, and that an XGBoost model round-trips through the
same MLflow path (skops) the serving and scoring code loads. The GPU case runs without a GPU: XGBoost
falls back to the CPU with a warning ("No visible GPU is found"), which is why a spy records the
device each estimator was built with.
What it does not prove: that training on a real GPU works (no GPU here); that Databricks sets
``DATABRICKS_RUNTIME_VERSION`` on a GPU job cluster (the runtime module's rule, tested there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest

from ml_jobs.data.fraud import generate_fraud
from ml_jobs.registry.client import connect
from ml_jobs.serving import model as served_model
from ml_jobs.spec import resolve
from ml_jobs.training import algorithms
from ml_jobs.training.algorithms import Placement, device_for, placement
from ml_jobs.training.pipeline import build_pipeline, features, predict_proba
from ml_jobs.training.train import TrainResult, train_model

from .conftest import TEST_OVERRIDES, local_runtime

FRAUD = "risk_fraud_xgb"


@pytest.mark.parametrize(
    ("algorithm", "compute", "on_databricks", "device"),
    [
        ("xgboost", "gpu", True, "cuda"),
        ("xgboost", "gpu", False, "cpu"),  # locally and in tests: never the GPU
        ("xgboost", "cpu", True, "cpu"),
        ("hist_gbm", "gpu", True, "cpu"),  # no GPU path (the config check refuses this pairing)
        ("hist_gbm", "cpu", False, "cpu"),
    ],
)
def test_device_is_cuda_only_for_xgboost_on_the_gpu_policy_on_databricks(
    algorithm: str, compute: str, on_databricks: bool, device: str
) -> None:
    assert device_for(algorithm, compute, on_databricks) == device  # type: ignore[arg-type]


def test_locally_one_thread_per_fit_on_databricks_every_core() -> None:
    spec = resolve(FRAUD, "dev").model
    assert spec.training.algorithm == "xgboost" and spec.training.compute == "gpu"
    assert placement(spec.training, on_databricks=False) == Placement("cpu", 1)
    assert placement(spec.training, on_databricks=True) == Placement("cuda", None)


def test_the_placement_reaches_the_xgboost_estimator() -> None:
    data = resolve(FRAUD, "dev").model.data
    model = build_pipeline(data, {"n_estimators": 10}, 1, "xgboost", Placement("cuda", None))
    params = model.named_steps["model"].get_params()
    assert (params["device"], params["n_jobs"], params["n_estimators"]) == ("cuda", None, 10)
    gbm = build_pipeline(data, {"max_iter": 10}, 1).named_steps["model"]
    assert type(gbm).__name__ == "HistGradientBoostingClassifier"


def test_fails_on_an_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unknown algorithm 'lightgbm'; allowed: hist_gbm, xgboost"):
        algorithms.impl("lightgbm")


@pytest.fixture(scope="module")
def gpu_job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fraud model trained as the GPU train job on Databricks would place it (spied)."""
    root = Path(tmp_path_factory.mktemp("xgb"))
    runtime = local_runtime(root)
    client = connect(runtime)
    spec = resolve(FRAUD, "dev", overrides=TEST_OVERRIDES)
    frame = generate_fraud(3000, seed=5)
    version = runtime.write_table(frame, "features", spec.model.data.table, mode="overwrite")
    built: list[tuple[str, Placement]] = []
    real_estimator, real_placement = algorithms.estimator, algorithms.placement

    def spy(algorithm: str, params: Any, seed: int, where: Placement = algorithms.LOCAL) -> Any:
        built.append((algorithm, where))
        return real_estimator(algorithm, params, seed, where)

    mp = pytest.MonkeyPatch()
    mp.setattr("ml_jobs.training.pipeline.estimator", spy)
    mp.setattr(algorithms, "placement", lambda training, on_databricks: real_placement(training, True))
    try:
        with pytest.warns(UserWarning, match="No visible GPU"):
            result = train_model(spec, runtime, client, data_version=version)
    finally:
        mp.undo()
    return {"result": result, "built": built, "frame": frame, "spec": spec, "client": client}


def test_every_fit_of_the_gpu_job_is_built_for_cuda(gpu_job: dict[str, Any]) -> None:
    built = gpu_job["built"]
    folds, trials = 3, gpu_job["spec"].model.training.n_trials
    assert len(built) >= trials + 1  # each trial fits up to 3 folds (pruning stops some), then the final fit
    assert len(built) <= folds * trials + 1
    assert set(built) == {("xgboost", Placement("cuda", None))}
    params = mlflow.get_run(gpu_job["result"].run_id).data.params
    assert (params["algorithm"], params["device"]) == ("xgboost", "cuda")


def test_the_saved_xgboost_model_predicts_on_the_cpu_through_the_serving_path(
    gpu_job: dict[str, Any],
) -> None:
    result: TrainResult = gpu_job["result"]
    loaded = served_model.load(f"models:/{result.registered_name}/{result.version}")
    final = loaded.classifier.named_steps["model"]
    assert type(final).__name__ == "XGBClassifier" and final.get_params()["device"] == "cpu"
    x = features(gpu_job["frame"].head(50), gpu_job["spec"].model.data)
    scored = served_model.score(loaded, x)
    proba = predict_proba(loaded.classifier, x)
    assert np.allclose(scored["score"], proba)
    assert np.array_equal(scored["prediction"], (proba >= 0.5).astype(int))
    assert result.metrics["roc_auc"] > 0.8
