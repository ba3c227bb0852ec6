"""Counting engine on Spark: the same counts as ``engine_numpy`` from DataFrame aggregations.

One aggregation job counts every column of every window: numeric values are bucketed on the
profile's edges by ``Bucketizer`` (binary search, left-closed buckets like ``engine_numpy``), all
columns are stacked into ``(window, column, bucket, category)`` rows and grouped once; the driver
receives at most windows x columns x bins small rows and builds the ``WindowCounts`` the shared
statistics read. Scores and labels need a second small aggregation.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd
from pyspark.ml.feature import Bucketizer
from pyspark.sql import DataFrame, Row, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ml_jobs.monitoring.counts import (
    SCORE_BINS,
    ColumnCounts,
    NumericCounts,
    SchemaFinding,
    ScoreCounts,
    WindowCounts,
)
from ml_jobs.monitoring.engine_numpy import categorical_counts_from_values, window_end
from ml_jobs.monitoring.profile import (
    MAX_CATEGORIES,
    CategoricalProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
    edges_from_quantiles,
)
from ml_jobs.monitoring.schema import LogSchema
from ml_jobs.monitoring.stats import bin_offsets

TRUNC = {"1 hour": "hour", "1 day": "day", "1 week": "week"}
NULL, INF = -1, -2
WINDOW = "__window"
_NUMERIC_TYPES = (
    T.ByteType,
    T.ShortType,
    T.IntegerType,
    T.LongType,
    T.FloatType,
    T.DoubleType,
    T.DecimalType,
)


def _is_numeric(df: DataFrame, column: str) -> bool:
    return isinstance(df.schema[column].dataType, _NUMERIC_TYPES)


def _with_window(df: DataFrame, granularity: str, schema: LogSchema) -> DataFrame:
    if granularity not in TRUNC:
        raise ValueError(f"granularity {granularity!r} is not supported; allowed: {sorted(TRUNC)}")
    if schema.timestamp not in df.columns:
        raise ValueError(
            f"inference log: timestamp column {schema.timestamp!r} is missing; present: {sorted(df.columns)}"
        )
    # Epoch seconds of the window start: no driver-side timezone conversion of collected datetimes.
    # Truncation follows the session time zone, which must be UTC (as on Databricks by default).
    return df.withColumn(WINDOW, F.unix_timestamp(F.date_trunc(TRUNC[granularity], F.col(schema.timestamp))))


def try_cast(column: str, to: str) -> Any:
    """``column`` as ``to``, null where a value does not convert. Under ANSI mode (the default on
    Spark 4 runtimes; Databricks, "ANSI compliance in Databricks Runtime") ``cast`` raises on such a
    value; ``try_cast`` (a SQL function since Spark 3.2; ``Column.try_cast`` only since 4.0) does not."""
    quoted = column.replace("`", "``")
    return F.expr(f"try_cast(`{quoted}` AS {to})")


def join_labels(log: DataFrame, labels: DataFrame | None, schema: LogSchema = LogSchema()) -> DataFrame:
    """The latest label per request id, left-joined; ``label`` is null where none arrived yet."""
    if labels is None:
        return log.withColumn(schema.label, F.lit(None).cast("double"))
    for column in (schema.request_id, schema.label):
        if column not in labels.columns:
            raise ValueError(f"labels table: column {column!r} is missing; present: {sorted(labels.columns)}")
    if schema.label_timestamp in labels.columns:
        latest = Window.partitionBy(schema.request_id).orderBy(F.col(schema.label_timestamp).desc())
        labels = labels.withColumn("__rn", F.row_number().over(latest)).where("__rn = 1").drop("__rn")
    else:
        labels = labels.dropDuplicates([schema.request_id])
    picked = labels.select(schema.request_id, try_cast(schema.label, "double").alias(schema.label))
    return log.drop(schema.label).join(picked, schema.request_id, "left")


def served_by(log: DataFrame, version: str, schema: LogSchema = LogSchema()) -> DataFrame:
    """The rows one model version served (all rows of a log that does not record the version)."""
    if schema.model_version not in log.columns:
        return log
    return log.where(F.col(schema.model_version).cast("string") == F.lit(str(version)))


def _one_row(aggregate: DataFrame) -> Row:
    """The row of a global aggregation (``agg`` without ``groupBy``): there is always exactly one."""
    row = aggregate.first()
    assert row is not None
    return row


def first_window(log: DataFrame, granularity: str, schema: LogSchema = LogSchema()) -> DataFrame:
    windowed = _with_window(log, granularity, schema)
    first = _one_row(windowed.agg(F.min(WINDOW)))[0]
    if first is None:
        raise ValueError("inference log: no rows, so there is no baseline window")
    return windowed.where(F.col(WINDOW) == F.lit(first)).drop(WINDOW)


def build_profile(
    df: DataFrame, numeric: list[str], categorical: list[str], fine_bins: int = 2000, coarse_bins: int = 10
) -> ReferenceProfile:
    """Edges from Spark's ``percentile_approx`` (exact below ``accuracy`` rows), counts from the same pass
    as windows. Its quantile definition is the inverted CDF, like ``profile.numeric_edges``."""
    for column in [*numeric, *categorical]:
        if column not in df.columns:
            raise ProfileError(f"reference data: column {column!r} is missing; present: {sorted(df.columns)}")
    levels = (np.arange(fine_bins + 1) / fine_bins).tolist()
    accuracy = 1_000_000
    finite = {
        c: F.when(
            ~F.isnan(try_cast(c, "double")) & (F.abs(try_cast(c, "double")) != math.inf),
            try_cast(c, "double"),
        )
        for c in numeric
    }
    aggs = [F.percentile_approx(finite[c], levels, accuracy).alias(f"q_{i}") for i, c in enumerate(numeric)]
    aggs += [F.mean(finite[c]).alias(f"m_{i}") for i, c in enumerate(numeric)]
    aggs += [F.stddev_pop(finite[c]).alias(f"s_{i}") for i, c in enumerate(numeric)]
    row = _one_row(
        df.agg(*aggs, F.count(F.lit(1)).alias("n")) if aggs else df.agg(F.count(F.lit(1)).alias("n"))
    )
    edges_by_column: dict[str, NumericProfile] = {}
    for i, c in enumerate(numeric):
        quantiles = row[f"q_{i}"]
        if quantiles is None or quantiles[0] is None:
            edges_by_column[c] = NumericProfile([], [], [0], row["n"], 0, 0, math.nan, math.nan, [0.0])
            continue
        edges, coarse = edges_from_quantiles(np.asarray(quantiles, dtype=float), fine_bins, coarse_bins)
        edges_by_column[c] = NumericProfile(
            edges.tolist(),
            coarse.tolist(),
            [],
            row["n"],
            0,
            0,
            float(row[f"m_{i}"]),
            float(row[f"s_{i}"] or 0.0),
            [],
        )
    categorical_profiles: dict[str, CategoricalProfile] = {}
    for c in categorical:
        values = df.groupBy(F.col(c).cast("string").alias("v")).count().collect()
        seen = sorted(
            ((r["v"], r["count"]) for r in values if r["v"] is not None), key=lambda kv: (-kv[1], kv[0])
        )
        if len(seen) > MAX_CATEGORIES:
            raise ProfileError(
                f"reference data: column {c!r} has {len(seen)} categories, more than {MAX_CATEGORIES}"
            )
        n_null = sum(r["count"] for r in values if r["v"] is None)
        categorical_profiles[c] = CategoricalProfile(
            [v for v, _ in seen], [n for _, n in seen], row["n"], n_null
        )
    draft = ReferenceProfile(edges_by_column, categorical_profiles, row["n"], fine_bins, coarse_bins)
    # Reference counts on the edges: the window pass over the whole reference as one window.
    counted = _count(df.withColumn(WINDOW, F.lit(0)), draft, score=None)[0].columns
    numeric_done = {}
    for c, p in edges_by_column.items():
        counts = counted[c]
        assert isinstance(counts, NumericCounts)
        numeric_done[c] = NumericProfile(
            p.edges,
            p.coarse_edges,
            counts.counts.tolist() if p.edges else [0],
            p.n_rows,
            counts.n_null,
            counts.n_inf,
            p.mean,
            p.std,
            counts.offsets.tolist() if p.edges else [0.0],
        )
    return ReferenceProfile(numeric_done, categorical_profiles, row["n"], fine_bins, coarse_bins)


def _numeric_source(df: DataFrame, column: str) -> tuple[DataFrame, Any | None]:
    """The column as double; a string column qualifies only if every non-null value parses."""
    if _is_numeric(df, column):
        return df, F.col(column).cast("double")
    parsed = try_cast(column, "double")
    bad = df.where(F.col(column).isNotNull() & parsed.isNull()).limit(1).count()
    return df, (None if bad else parsed)


def _count(df: DataFrame, profile: ReferenceProfile, score: LogSchema | None) -> list[WindowCounts]:
    """Counts per value of the ``WINDOW`` column (which the caller adds)."""
    columns = profile.columns
    findings: dict[str, SchemaFinding] = {}
    numeric_exprs: dict[str, Any] = {}
    for c in profile.numeric:
        if c not in df.columns:
            findings[c] = SchemaFinding("missing", f"column {c!r} is missing from the window", 0)
            continue
        df, expr = _numeric_source(df, c)
        if expr is None:
            findings[c] = SchemaFinding(
                "dtype",
                f"column {c!r} is numeric in the reference but has type "
                f"{df.schema[c].dataType.simpleString()} with non-numeric values",
                0,
            )
            continue
        numeric_exprs[c] = expr
    for c in profile.categorical:
        if c not in df.columns:
            findings[c] = SchemaFinding("missing", f"column {c!r} is missing from the window", 0)
    # Bucket every numeric column on its edges; NaN/null and infinities get their own codes.
    staged = df.select(
        WINDOW,
        *[numeric_exprs[c].alias(f"__n{i}") for i, c in enumerate(columns) if c in numeric_exprs],
        *[
            F.col(c).cast("string").alias(f"__c{i}")
            for i, c in enumerate(columns)
            if c in profile.categorical and c not in findings
        ],
    )
    bucketed_cols = [(i, c) for i, c in enumerate(columns) if c in numeric_exprs and profile.numeric[c].edges]
    if bucketed_cols:
        staged = staged.fillna(math.nan, subset=[f"__n{i}" for i, _ in bucketed_cols])
        staged = Bucketizer(
            inputCols=[f"__n{i}" for i, _ in bucketed_cols],
            outputCols=[f"__b{i}" for i, _ in bucketed_cols],
            splitsArray=[[-math.inf, *profile.numeric[c].edges, math.inf] for _, c in bucketed_cols],
            handleInvalid="keep",
        ).transform(staged)
    entries = []
    for i, c in enumerate(columns):
        if c in findings:
            continue
        if c in numeric_exprs:
            x = F.col(f"__n{i}")
            bucket = F.col(f"__b{i}").cast("int") if profile.numeric[c].edges else F.lit(0)
            code = (
                F.when(x.isNull() | F.isnan(x), F.lit(NULL))
                .when(F.abs(x) == math.inf, F.lit(INF))
                .otherwise(bucket)
            )
            entries.append(
                F.struct(
                    F.lit(i).alias("k"),
                    code.alias("b"),
                    F.when(code >= 0, x).alias("x"),
                    F.lit(None).cast("string").alias("v"),
                )
            )
        else:
            v = F.col(f"__c{i}")
            entries.append(
                F.struct(
                    F.lit(i).alias("k"),
                    F.when(v.isNull(), F.lit(NULL)).otherwise(0).alias("b"),
                    F.lit(None).cast("double").alias("x"),
                    v.alias("v"),
                )
            )
    totals = {r[WINDOW]: r["count"] for r in df.groupBy(WINDOW).count().collect()}
    grouped: list[Any] = []
    if entries:
        stacked = staged.select(WINDOW, F.explode(F.array(*entries)).alias("e")).select(WINDOW, "e.*")
        grouped = (
            stacked.groupBy(WINDOW, "k", "b", "v")
            .agg(F.count(F.lit(1)).alias("n"), F.sum("x").alias("s"))
            .collect()
        )
    scores = _score_counts(df, score) if score is not None else {}
    return [
        _assemble(
            key, totals[key], [r for r in grouped if r[WINDOW] == key], profile, findings, scores.get(key)
        )
        for key in sorted(totals)
    ]


def _assemble(
    key: Any,
    n_rows: int,
    rows: list[Any],
    profile: ReferenceProfile,
    findings: dict[str, SchemaFinding],
    scores: ScoreCounts | None,
) -> WindowCounts:
    columns: dict[str, ColumnCounts] = {}
    by_column: dict[int, list[Any]] = {}
    for r in rows:
        by_column.setdefault(r["k"], []).append(r)
    for i, c in enumerate(profile.columns):
        if c in findings:
            columns[c] = SchemaFinding(findings[c].kind, findings[c].detail, n_rows)
        elif c in profile.numeric:
            columns[c] = _numeric_counts(by_column.get(i, []), profile.numeric[c], n_rows)
        else:
            entries = by_column.get(i, [])
            per_value = {r["v"]: r["n"] for r in entries if r["b"] != NULL}
            n_null = sum(r["n"] for r in entries if r["b"] == NULL)
            columns[c] = categorical_counts_from_values(per_value, profile.categorical[c], n_rows, n_null)
    return WindowCounts(key, None, n_rows, columns, scores)


def _numeric_counts(rows: list[Any], profile: NumericProfile, n_rows: int) -> NumericCounts:
    edges = profile.edges
    counts = np.zeros(len(edges) + 1 if edges else 1, dtype=np.int64)
    sums = np.zeros(len(counts))
    n_null = n_inf = 0
    for r in rows:
        if r["b"] == NULL:
            n_null += r["n"]
        elif r["b"] == INF:
            n_inf += r["n"]
        else:
            counts[r["b"]] += r["n"]
            sums[r["b"]] += r["s"] or 0.0
    offsets = bin_offsets(sums, counts, np.asarray(edges)) if edges else np.zeros(1)
    return NumericCounts(counts, n_rows, n_null, n_inf, offsets, float(sums.sum()))


def _score_counts(df: DataFrame, schema: LogSchema) -> dict[Any, ScoreCounts]:
    if schema.score not in df.columns or schema.prediction not in df.columns:
        return {}
    s = F.least(F.greatest(try_cast(schema.score, "double"), F.lit(0.0)), F.lit(1.0))
    label = try_cast(schema.label, "int") if schema.label in df.columns else F.lit(None).cast("int")
    scored = df.where(
        F.col(schema.score).isNotNull()
        & ~F.isnan(try_cast(schema.score, "double"))
        & F.col(schema.prediction).isNotNull()
    )
    grouped = (
        scored.select(
            WINDOW,
            F.least(F.floor(s * SCORE_BINS), F.lit(SCORE_BINS - 1)).cast("int").alias("bin"),
            s.alias("s"),
            try_cast(schema.prediction, "int").alias("p"),
            label.alias("y"),
        )
        .groupBy(WINDOW, "bin", "p", "y")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("s").alias("ss"))
        .collect()
    )
    out: dict[Any, dict[str, Any]] = {}
    for r in grouped:
        w = out.setdefault(
            r[WINDOW],
            {
                "pos": np.zeros(SCORE_BINS, np.int64),
                "neg": np.zeros(SCORE_BINS, np.int64),
                "rows": np.zeros(SCORE_BINS, np.int64),
                "sum": np.zeros(SCORE_BINS),
                "conf": np.zeros((2, 2), np.int64),
                "correct": 0.0,
                "labelled": 0,
            },
        )
        w["rows"][r["bin"]] += r["n"]
        w["sum"][r["bin"]] += r["ss"]
        w["correct"] += r["ss"] if r["p"] == 1 else r["n"] - r["ss"]
        if r["y"] is not None:
            (w["pos"] if r["y"] == 1 else w["neg"])[r["bin"]] += r["n"]
            w["conf"][r["p"], r["y"]] += r["n"]
            w["labelled"] += r["n"]
    return {
        k: ScoreCounts(
            w["pos"],
            w["neg"],
            w["rows"],
            w["sum"],
            w["conf"],
            float(w["correct"]),
            int(w["rows"].sum()),
            w["labelled"],
        )
        for k, w in out.items()
    }


def count_windows(
    log: DataFrame,
    profile: ReferenceProfile,
    granularity: str,
    schema: LogSchema = LogSchema(),
    n_threads: int = 1,
) -> list[WindowCounts]:
    """Counts of every window of an inference log, in time order (Spark parallelises; no threads)."""
    del n_threads
    windows = _count(_with_window(log, granularity, schema), profile, schema)
    for w in windows:
        # Until here a window's start is its epoch seconds (the unix_timestamp column, a LongType).
        w.start = pd.Timestamp(int(cast(int, w.start)), unit="s", tz="UTC")
        w.end = window_end(w.start, granularity)
    return windows
