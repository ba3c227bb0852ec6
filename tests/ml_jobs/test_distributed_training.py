"""Distributed XGBoost on local Spark under a small row limit.

What it proves: above the limit (and only for XGBoost) the decision is to distribute; the Spark split
holds out exactly the rows the single-node split holds out; ``xgboost.spark`` on two barrier tasks
trains a model that, as the usual scikit-learn pipeline, scores the held-out rows about as well as
the single-node fit and round-trips through the MLflow/skops path the serving code loads.
What it does not prove: the train job taking this path (not wired into ``train_model`` yet, see the
module), or behaviour at cluster scale.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml_jobs.data.generate import generate_churn
from ml_jobs.spec import resolve
from ml_jobs.training import algorithms
from ml_jobs.training.distributed import fit_distributed, should_distribute, spark_split
from ml_jobs.training.pipeline import build_pipeline, features, predict_proba, split

pytestmark = [pytest.mark.spark, pytest.mark.slow]
LIMIT, ROWS, SEED = 1000, 2500, 42
PARAMS = {"n_estimators": 40, "max_depth": 4, "learning_rate": 0.2}


@pytest.mark.parametrize(
    ("algorithm", "rows", "limit", "expected"),
    [
        ("xgboost", ROWS, LIMIT, True),
        ("xgboost", LIMIT, LIMIT, False),
        ("xgboost", ROWS, None, False),
        ("hist_gbm", ROWS, LIMIT, False),
    ],
)
def test_only_xgboost_above_the_limit_is_distributed(
    algorithm: str, rows: int, limit: int | None, expected: bool
) -> None:
    assert should_distribute(algorithm, rows, limit) is expected


@pytest.fixture(scope="module")
def trained(spark: Any) -> dict[str, Any]:
    data = resolve("marketing_churn_gbm", "dev").model.data
    frame = generate_churn(ROWS, seed=9)
    df = spark.createDataFrame(frame.astype({"event_ts": "datetime64[us, UTC]"}))
    train_df, test_df = spark_split(df, data, 0.2, SEED)
    model = fit_distributed(train_df, data, PARAMS, SEED, num_workers=2)
    return {"data": data, "frame": frame, "train_df": train_df, "test_df": test_df, "model": model}


def test_the_spark_split_is_the_single_node_split(trained: dict[str, Any]) -> None:
    data = trained["data"]
    train, test = split(trained["frame"], data, 0.2, SEED)
    assert {r[data.id_column] for r in trained["test_df"].select(data.id_column).collect()} == set(
        test[data.id_column]
    )
    assert trained["train_df"].count() == len(train)


def test_the_distributed_model_scores_like_the_single_node_one(trained: dict[str, Any]) -> None:
    data = trained["data"]
    train, test = split(trained["frame"], data, 0.2, SEED)
    y = test[data.label].to_numpy()
    single = build_pipeline(data, PARAMS, SEED, "xgboost").fit(features(train, data), train[data.label])
    auc_distributed = roc_auc_score(y, predict_proba(trained["model"], features(test, data)))
    auc_single = roc_auc_score(y, predict_proba(single, features(test, data)))
    assert auc_distributed > 0.75 and abs(auc_distributed - auc_single) < 0.03


def test_the_distributed_model_saves_and_loads_through_the_serving_path(
    trained: dict[str, Any], tmp_path: Any
) -> None:
    model, data = algorithms.for_serving(trained["model"]), trained["data"]
    x = features(trained["frame"].head(20), data)
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "m"),
        serialization_format="skops",
        skops_trusted_types=list(algorithms.impl("xgboost").skops_trusted_types),
    )
    loaded = mlflow.sklearn.load_model(str(tmp_path / "m"))
    assert np.allclose(predict_proba(loaded, x), predict_proba(model, x))
