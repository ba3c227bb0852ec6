"""Counting engine for one machine: one pass per column and window, no copies of the frame.

Numeric columns are counted by sorting the window's column once (numpy's vectorised sort,
~25 ms per million float64 values here) and locating the profile edges in it with
``searchsorted``. Measured on this machine that is 3-4 times faster than locating each value among
2,000 edges (``searchsorted(edges, x)``, ~90 ms per million: random access), and the sorted copy
also gives NaN, infinity and tail sums for free. Categorical columns map values to the reference
vocabulary through pandas' hash-based ``Categorical`` and count codes with ``bincount``.
Columns can be counted on a thread pool (``n_threads``), but on this 2-core machine one thread was
faster (0.9 s vs 1.8 s for the benchmark) and used less memory, so one is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ml_jobs.monitoring import performance
from ml_jobs.monitoring import profile as profile_module
from ml_jobs.monitoring.counts import (
    MAX_UNSEEN_KEPT,
    SCORE_BINS,
    CategoricalCounts,
    ColumnCounts,
    NumericCounts,
    SchemaFinding,
    ScoreCounts,
    WindowCounts,
)
from ml_jobs.monitoring.profile import (
    MAX_CATEGORIES,
    CategoricalProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
    is_numeric_dtype,
    numeric_edges,
)
from ml_jobs.monitoring.schema import LogSchema
from ml_jobs.monitoring.stats import TailSums

Rows = slice | np.ndarray


def _as_float(series: pd.Series, rows: Rows) -> np.ndarray:
    """The window's values as float64 (a view when possible; nullable NA becomes NaN)."""
    if series.dtype.kind == "f" and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        values = series.to_numpy(copy=False)
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[rows]


def _sorted_parts(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Sorted finite values (a view into one sorted copy), the NaN count and the infinity count."""
    s = np.sort(values.astype(np.float64, copy=False))
    n_le_inf = int(np.searchsorted(s, np.inf, side="right"))  # NaN sorts after +inf
    n_neg_inf = int(np.searchsorted(s, -np.inf, side="right"))
    n_pos_inf = n_le_inf - int(np.searchsorted(s, np.inf, side="left"))
    return s[n_neg_inf : n_le_inf - n_pos_inf], len(s) - n_le_inf, n_neg_inf + n_pos_inf


def _count_sorted(finite: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, TailSums]:
    below_edge = np.searchsorted(finite, edges, side="left")  # values < e_j
    counts = np.diff(np.concatenate(([0], below_edge, [len(finite)])))
    n_below, start_above = int(below_edge[0]), int(below_edge[-1])
    below = float(edges[0] * n_below - finite[:n_below].sum()) if n_below else 0.0
    above = float(finite[start_above:].sum() - edges[-1] * (len(finite) - start_above))
    return counts.astype(np.int64), TailSums(below, max(above, 0.0))


def profile_numeric(series: pd.Series, fine_bins: int, coarse_bins: int) -> NumericProfile:
    finite, n_null, n_inf = _sorted_parts(_as_float(series, slice(None)))
    if len(finite) == 0:  # all null: only null shares can be compared later
        return NumericProfile([], [], [0], len(series), n_null, n_inf, float("nan"), float("nan"))
    edges, coarse = numeric_edges(finite, fine_bins, coarse_bins)
    counts, _ = _count_sorted(finite, edges)
    return NumericProfile(
        edges.tolist(),
        coarse.tolist(),
        counts.tolist(),
        len(series),
        n_null,
        n_inf,
        float(finite.mean()),
        float(finite.std()),
    )


def count_numeric(series: pd.Series, rows: Rows, profile: NumericProfile) -> NumericCounts:
    finite, n_null, n_inf = _sorted_parts(_as_float(series, rows))
    n_rows = len(finite) + n_null + n_inf
    if not profile.edges:
        counts, tails = np.array([len(finite)], dtype=np.int64), TailSums(0.0, 0.0)
    else:
        counts, tails = _count_sorted(finite, np.asarray(profile.edges))
    return NumericCounts(counts, n_rows, n_null, n_inf, tails, float(finite.sum()))


def _as_labels(series: pd.Series) -> pd.Series:
    """Values as strings so they compare with the stored vocabulary; nulls stay null."""
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return series
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series
    out = series.astype("string")  # keeps NA, unlike astype(str)
    return out


def profile_categorical(series: pd.Series, column: str) -> CategoricalProfile:
    labels = _as_labels(series)
    counts = labels.value_counts(dropna=True)
    if len(counts) > MAX_CATEGORIES:
        raise ProfileError(
            f"reference data: column {column!r} has {len(counts)} categories, more than "
            f"{MAX_CATEGORIES}; monitor it as numeric or leave it out"
        )
    return CategoricalProfile(
        [str(c) for c in counts.index],
        [int(v) for v in counts.to_numpy()],
        len(series),
        int(labels.isna().sum()),
    )


def count_categorical(series: pd.Series, rows: Rows, profile: CategoricalProfile) -> CategoricalCounts:
    labels = _as_labels(series.iloc[rows] if isinstance(rows, slice) else series.take(rows))
    # One hash pass over the window; mapping the few distinct values onto the vocabulary is cheap.
    # (pd.Categorical(values, categories=vocab) is 5-8 times slower on Arrow-backed strings.)
    per_value = labels.value_counts(dropna=True)
    return categorical_counts_from_values(
        dict(zip(map(str, per_value.index), per_value.to_numpy().tolist(), strict=True)),
        profile,
        len(labels),
        int(labels.isna().sum()),
    )


def categorical_counts_from_values(
    per_value: dict[str, int], profile: CategoricalProfile, n_rows: int, n_null: int
) -> CategoricalCounts:
    """Counts per distinct value mapped onto the reference vocabulary (shared with the Spark engine)."""
    index = {c: i for i, c in enumerate(profile.categories)}
    counts = np.zeros(len(profile.categories) + 1, dtype=np.int64)
    unseen: dict[str, int] = {}
    for value, count in per_value.items():
        i = index.get(value)
        if i is None:
            unseen[value] = unseen.get(value, 0) + int(count)
        else:
            counts[i] += int(count)
    counts[-1] = sum(unseen.values())
    top = dict(sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_UNSEEN_KEPT])
    return CategoricalCounts(counts, n_rows, n_null, top, len(unseen))


def _numeric_like(series: pd.Series) -> pd.Series | None:
    """A non-numeric column whose non-null values all parse as numbers, converted; else None."""
    converted = pd.to_numeric(series, errors="coerce")
    return converted if int(converted.isna().sum()) == int(series.isna().sum()) else None


def count_column(
    df: pd.DataFrame, column: str, rows: Rows, profile: ReferenceProfile, n_rows: int
) -> ColumnCounts:
    if column not in df.columns:
        return SchemaFinding("missing", f"column {column!r} is missing from the window", n_rows)
    series = df[column]
    if column in profile.numeric:
        if not is_numeric_dtype(series):
            numeric = _numeric_like(series.iloc[rows] if isinstance(rows, slice) else series.take(rows))
            if numeric is None:
                return SchemaFinding(
                    "dtype",
                    f"column {column!r} is numeric in the reference but has "
                    f"dtype {series.dtype} with non-numeric values",
                    n_rows,
                )
            return count_numeric(numeric, slice(None), profile.numeric[column])
        return count_numeric(series, rows, profile.numeric[column])
    return count_categorical(series, rows, profile.categorical[column])


def count_scores(df: pd.DataFrame, rows: Rows, score: str, prediction: str, label: str | None) -> ScoreCounts:
    """Score-bin counts for performance: labelled rows by class, all rows with their score sums."""
    s = np.clip(_as_float(df[score], rows), 0.0, 1.0)
    valid = ~np.isnan(s)
    pred = df[prediction].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    valid &= ~np.isnan(pred)
    s, pred = s[valid], pred[valid].astype(np.int64)
    bins = np.minimum((s * SCORE_BINS).astype(np.int64), SCORE_BINS - 1)
    rows_per_bin = np.bincount(bins, minlength=SCORE_BINS)
    score_sum = np.bincount(bins, weights=s, minlength=SCORE_BINS)
    expected_correct = float(np.where(pred == 1, s, 1 - s).sum())
    positives = negatives = np.zeros(SCORE_BINS, dtype=np.int64)
    confusion = np.zeros((2, 2), dtype=np.int64)
    n_labelled = 0
    if label is not None and label in df.columns:
        y = df[label].to_numpy(dtype=np.float64, na_value=np.nan)[rows][valid]
        has = ~np.isnan(y)
        yb, bb, pb = y[has].astype(np.int64), bins[has], pred[has]
        positives = np.bincount(bb[yb == 1], minlength=SCORE_BINS)
        negatives = np.bincount(bb[yb == 0], minlength=SCORE_BINS)
        confusion = np.bincount(pb * 2 + yb, minlength=4)[:4].reshape(2, 2)
        n_labelled = int(has.sum())
    return ScoreCounts(
        positives,
        negatives,
        rows_per_bin,
        score_sum,
        confusion,
        expected_correct,
        int(valid.sum()),
        n_labelled,
    )


# --- windows -------------------------------------------------------------------------------------

GRANULARITY_UNITS = {"1 hour": "h", "1 day": "D", "1 week": "W"}


def window_starts(timestamps: pd.Series, granularity: str) -> pd.Series:
    """Start of each row's window in UTC: hour or day floors; weeks start on Monday (as Spark's)."""
    if granularity not in GRANULARITY_UNITS:
        raise ValueError(
            f"granularity {granularity!r} is not supported; allowed: {sorted(GRANULARITY_UNITS)}"
        )
    ts = pd.to_datetime(timestamps, utc=True)
    unit = GRANULARITY_UNITS[granularity]
    if unit == "W":
        day = ts.dt.floor("D")
        return day - pd.to_timedelta(day.dt.weekday, unit="D")
    return ts.dt.floor(unit)


def window_end(start: pd.Timestamp, granularity: str) -> pd.Timestamp:
    return (
        start
        + {"1 hour": pd.Timedelta(hours=1), "1 day": pd.Timedelta(days=1), "1 week": pd.Timedelta(weeks=1)}[
            granularity
        ]
    )


def iter_windows(timestamps: pd.Series, granularity: str) -> Iterator[tuple[pd.Timestamp, Rows]]:
    """Yield (window start, rows) in time order; rows are slices when the log is sorted by time."""
    starts = window_starts(timestamps, granularity)
    if len(starts) == 0:
        return
    keys = starts.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = None if bool(np.all(keys[1:] >= keys[:-1])) else np.argsort(keys, kind="stable")
    sorted_keys = keys if order is None else keys[order]
    uniq, first = np.unique(sorted_keys, return_index=True)
    bounds = [*first.tolist(), len(sorted_keys)]
    for i, key in enumerate(uniq):
        rows: Rows = slice(bounds[i], bounds[i + 1])
        if order is not None:
            rows = order[rows]
        yield pd.Timestamp(int(key), tz="UTC"), rows


def count_window(
    df: pd.DataFrame,
    rows: Rows,
    profile: ReferenceProfile,
    start: object = None,
    end: object = None,
    score: str | None = "score",
    prediction: str = "prediction",
    label: str | None = None,
    n_threads: int = 1,
) -> WindowCounts:
    """Count every profiled column of ``df[rows]`` (and the score bins when ``score`` is present)."""
    n_rows = len(range(len(df))[rows]) if isinstance(rows, slice) else len(rows)
    columns = profile.columns
    if n_threads > 1 and len(columns) > 1:
        with ThreadPoolExecutor(n_threads) as pool:
            counted = list(pool.map(lambda c: count_column(df, c, rows, profile, n_rows), columns))
    else:
        counted = [count_column(df, c, rows, profile, n_rows) for c in columns]
    scores = None
    if score is not None and score in df.columns and prediction in df.columns:
        scores = count_scores(df, rows, score, prediction, label)
    return WindowCounts(start, end, n_rows, dict(zip(columns, counted, strict=True)), scores)


def count_windows(
    log: pd.DataFrame,
    profile: ReferenceProfile,
    granularity: str,
    schema: LogSchema = LogSchema(),
    n_threads: int = 1,
) -> list[WindowCounts]:
    """Counts of every window of an inference log (labels already joined), in time order."""
    _require(log, schema.timestamp, "inference log")
    label = schema.label if schema.label in log.columns else None
    return [
        count_window(
            log,
            rows,
            profile,
            start,
            window_end(start, granularity),
            schema.score,
            schema.prediction,
            label,
            n_threads,
        )
        for start, rows in iter_windows(log[schema.timestamp], granularity)
    ]


def _require(df: pd.DataFrame, column: str, what: str) -> None:
    if column not in df.columns:
        raise ValueError(f"{what}: column {column!r} is missing; present: {sorted(map(str, df.columns))}")


def join_labels(
    log: pd.DataFrame, labels: pd.DataFrame | None, schema: LogSchema = LogSchema()
) -> pd.DataFrame:
    if labels is not None:
        _require(log, schema.request_id, "inference log")
    return performance.join_labels(log, labels, schema.request_id, schema.label, schema.label_timestamp)


def first_window(log: pd.DataFrame, granularity: str, schema: LogSchema = LogSchema()) -> pd.DataFrame:
    """Rows of the earliest window (the baseline when ``monitoring.reference`` is ``baseline_window``)."""
    _require(log, schema.timestamp, "inference log")
    for _, rows in iter_windows(log[schema.timestamp], granularity):
        return log.iloc[rows] if isinstance(rows, slice) else log.take(rows)
    raise ValueError("inference log: no rows, so there is no baseline window")


def build_profile(df: pd.DataFrame, numeric: list[str], categorical: list[str]) -> ReferenceProfile:
    return profile_module.build_profile(df, numeric, categorical)
