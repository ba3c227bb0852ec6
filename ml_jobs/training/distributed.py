"""Distributed XGBoost (``xgboost.spark``) for training splits too large for the driver.

The result is the same scikit-learn pipeline the single-node path produces (preprocessing, then an
``XGBClassifier``), so it is saved, validated, served and scored through the same code. How:

1. the held-out split is cut on Spark with the single-node rule (``pipeline.held_out_mask``, a seeded
   hash of each id alone: any partition gives the same answer for the same id);
2. the preprocessing (median imputation, one-hot) is fitted on a seeded sample of the training split
   collected to the driver (``sample_rows``): a category missing from the sample is ignored at
   prediction time (``handle_unknown="ignore"``), medians are those of the sample;
3. the executors transform their partitions with that fitted preprocessing (``mapInPandas``) and
   ``SparkXGBClassifier`` trains on them with ``num_workers`` barrier tasks (XGBoost, "Distributed
   XGBoost with PySpark": https://xgboost.readthedocs.io/en/stable/tutorials/spark_estimator.html);
4. the trained booster is loaded into an ``XGBClassifier`` with the same parameters.

Not yet wired into ``train_model`` (``training/train.py`` collects the table to pandas first; that
module is being rewritten on another branch): ``should_distribute`` is the decision the train job
takes once it reads the table as a Spark DataFrame.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ml_jobs.training.algorithms import LOCAL, Placement, estimator
from ml_jobs.training.pipeline import build_pipeline, features, held_out_mask
from mlops_spec.config.model_spec import DataSpec

SAMPLE_ROWS = 100_000


def should_distribute(algorithm: str, rows: int, limit: int | None) -> bool:
    """XGBoost on more rows than the limit trains on the cluster; everything else on the driver."""
    return algorithm == "xgboost" and limit is not None and rows > limit


def spark_split(df: Any, data: DataSpec, test_size: float, seed: int) -> tuple[Any, Any]:
    """(training, held-out) Spark DataFrames: the same rows as ``pipeline.split`` on pandas."""
    flag = "_held_out"
    schema = f"{df.schema.simpleString()[len('struct<') : -1]},{flag}:boolean"

    def mark(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield batch.assign(**{flag: held_out_mask(batch[data.id_column], test_size, seed)})

    marked = df.mapInPandas(mark, schema)
    return marked.where(f"NOT {flag}").drop(flag), marked.where(flag).drop(flag)


def fit_distributed(
    train_df: Any,
    data: DataSpec,
    params: Mapping[str, Any],
    seed: int,
    num_workers: int,
    where: Placement = LOCAL,
    sample_rows: int = SAMPLE_ROWS,
) -> Any:
    """The fitted single-node-shaped pipeline, trained with ``xgboost.spark`` on ``num_workers`` tasks."""
    from pyspark.sql import functions as F
    from sklearn.pipeline import Pipeline
    from xgboost.spark import SparkXGBClassifier

    train_df = train_df.cache()  # counted, sampled and transformed: computed once
    total = train_df.count()
    fraction = min(1.0, sample_rows / max(total, 1))
    sample = train_df.sample(fraction=fraction, seed=seed).toPandas()
    pre = build_pipeline(data, params, seed, "xgboost", where).named_steps["preprocess"]
    pre.fit(features(sample, data))
    names = [f"f{i}" for i in range(len(pre.get_feature_names_out()))]
    schema = ", ".join([f"{n} double" for n in names] + [f"{data.label} int"])
    label = data.label

    def transform(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            out = pd.DataFrame(np.asarray(pre.transform(features(batch, data)), dtype=float), columns=names)
            out[label] = batch[label].to_numpy().astype("int32")
            yield out

    matrix = train_df.select(*data.features, F.col(label)).mapInPandas(transform, schema)
    # The single-node estimator's fixed settings (algorithms._xgboost) minus n_jobs: xgboost.spark sets
    # the threads of each task from spark.task.cpus, and refuses a custom objective.
    spark_params = {
        **params,
        "tree_method": "hist",
        "device": where.device,
        "random_state": seed,
        "eval_metric": "logloss",
    }
    model = SparkXGBClassifier(features_col=names, label_col=label, num_workers=num_workers, **spark_params)
    booster = model.fit(matrix).get_booster()
    train_df.unpersist()
    clf = estimator("xgboost", params, seed, where)
    clf.load_model(bytearray(booster.save_raw("json")))
    return Pipeline([("preprocess", pre), ("model", clf)])
