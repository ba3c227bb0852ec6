"""Point-in-time lookup: each label row gets, per feature table, the newest feature row of its key whose
timestamp is not later than the label's (Databricks, "Point-in-time feature joins": an AS OF join on
the primary key and the timestamp key; no match leaves the features null). A value observed after the
label's time can never reach its row, so nothing leaks from the future.

The same lookup in pandas (``merge_asof``, backward, exact matches allowed) and in Spark (the newest
candidate per label row by a window); the tests hold both to the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def lookup(
    labels: pd.DataFrame,
    features: pd.DataFrame,
    keys: Sequence[str],
    label_ts: str,
    feature_ts: str,
    columns: Sequence[str],
) -> pd.DataFrame:
    """``labels`` with ``columns`` of ``features`` as of each label row's ``label_ts``."""
    left = labels.reset_index(drop=True).assign(_row=lambda f: range(len(f)))
    right = features[[*keys, feature_ts, *columns]].rename(columns={feature_ts: "_feature_ts"})
    left_ts, right_ts = _utc(left[label_ts]), _utc(right["_feature_ts"])
    left = left.assign(_ts=left_ts).sort_values("_ts", kind="stable")
    right = right.assign(_ts=right_ts).drop(columns="_feature_ts").dropna(subset=["_ts"])
    right = right.sort_values("_ts", kind="stable")
    joined = pd.merge_asof(
        left, right, on="_ts", by=list(keys), direction="backward", allow_exact_matches=True
    )
    return joined.sort_values("_row").drop(columns=["_row", "_ts"]).reset_index(drop=True)


def _utc(column: pd.Series) -> pd.Series:
    ts = pd.to_datetime(column, utc=True)
    return ts.astype("datetime64[us, UTC]")


def lookup_spark(
    labels: Any,
    features: Any,
    keys: Sequence[str],
    label_ts: str,
    feature_ts: str,
    columns: Sequence[str],
) -> Any:
    """The same lookup on Spark DataFrames: candidates at or before the label time, the newest wins."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    left = labels.withColumn("_row", F.monotonically_increasing_id())
    right = features.select(*keys, F.col(feature_ts).alias("_feature_ts"), *columns)
    cond = [left[k] == right[k] for k in keys] + [right["_feature_ts"] <= left[label_ts]]
    joined = left.join(right, cond, "left").drop(*[right[k] for k in keys])
    newest = Window.partitionBy("_row").orderBy(F.col("_feature_ts").desc_nulls_last())
    return (
        joined.withColumn("_rank", F.row_number().over(newest))
        .where(F.col("_rank") == 1)
        .drop("_rank", "_feature_ts", "_row")
    )
