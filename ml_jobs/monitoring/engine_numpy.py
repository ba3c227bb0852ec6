"""Counting engine for one machine: one pass per column and window, no copies of the frame.

A window's numeric column is counted without sorting it: ``Binner`` finds each value's bin among
the profile's 2,000 edges through a lookup table of equal-width cells (about ten vectorised passes
over memory per chunk, exact: see its docstring), then ``bincount`` gives the counts and the per-bin
sums the Wasserstein offsets need. The reference profile is built once by sorting (its quantiles
need the order anyway). Categorical columns are counted per distinct value with one hash pass and
mapped onto the reference vocabulary. Columns can be counted on a thread pool (``n_threads``), but
on this 2-core machine one thread is the default: the machine is shared and the passes are
memory-bound.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml_jobs.monitoring import performance, stats
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

Rows = slice | np.ndarray
CHUNK = 1 << 18
"""Values per counting step: the step's temporaries (about 40 bytes a value) stay in cache-sized
blocks and memory stays flat whatever the window's size."""
MIN_ROWS_FOR_TABLE = 50_000
"""Below this a window is counted by binary search: building lookup tables would cost more."""


def _as_float(series: pd.Series, rows: Rows) -> np.ndarray:
    """The window's values as float64 (a view when possible; nullable NA becomes NaN)."""
    if series.dtype == np.float64 and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        view: np.ndarray = series.to_numpy(copy=False)[rows]
        return view
    window = series.iloc[rows] if isinstance(rows, slice) else series.take(rows)
    values: np.ndarray = window.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _sorted_parts(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Sorted finite values (a view into one sorted copy), the NaN count and the infinity count."""
    s = np.sort(values.astype(np.float64, copy=False))
    n_le_inf = int(np.searchsorted(s, np.inf, side="right"))  # NaN sorts after +inf
    n_neg_inf = int(np.searchsorted(s, -np.inf, side="right"))
    n_pos_inf = n_le_inf - int(np.searchsorted(s, np.inf, side="left"))
    return s[n_neg_inf : n_le_inf - n_pos_inf], len(s) - n_le_inf, n_neg_inf + n_pos_inf


def _count_sorted(finite: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and offsets of sorted finite values on the bins of ``edges``."""
    bounds = np.concatenate(([0], np.searchsorted(finite, edges, side="left"), [len(finite)]))
    counts = np.diff(bounds).astype(np.int64)
    sums = np.zeros(len(counts))
    filled = counts > 0
    if filled.any():  # reduceat sums each bin's run of the sorted values; empty bins stay 0
        sums[filled] = np.add.reduceat(finite, bounds[:-1][filled])
    return counts, stats.bin_offsets(sums, counts, edges)


def profile_numeric(series: pd.Series, fine_bins: int, coarse_bins: int) -> NumericProfile:
    finite, n_null, n_inf = _sorted_parts(_as_float(series, slice(None)))
    if len(finite) == 0:  # all null: only null shares can be compared later
        return NumericProfile([], [], [0], len(series), n_null, n_inf, float("nan"), float("nan"), [0.0])
    edges, coarse = numeric_edges(finite, fine_bins, coarse_bins)
    counts, offsets = _count_sorted(finite, edges)
    return NumericProfile(
        edges.tolist(),
        coarse.tolist(),
        counts.tolist(),
        len(series),
        n_null,
        n_inf,
        float(finite.mean()),
        float(finite.std()),
        offsets.tolist(),
    )


@dataclass(frozen=True)
class Binner:
    """Exact bin index (``searchsorted(edges, x, side="right")``) through a table of equal-width cells.

    A value's cell is ``trunc(clip(x * scale + shift, 0, cells + 1))``: cell 0 lies below the grid,
    cells 1..M on it, cell M + 1 above it. That map is monotone even with rounding, so the values
    of one cell lie in an interval; ``lo`` is the count of edges at or below the interval's start
    (widened by a few ulps), and when at most two edges lie inside it the bin is ``lo`` plus two
    comparisons with those edges, exactly. Values in cells holding more edges (a spike of near-ties,
    or the far tails outside a trimmed grid) are located by binary search. The grid spans the edges,
    or the central ones when the tails are so long that equal cells would be too coarse in the bulk;
    ``fallback_share`` is the reference's share counted the slow way.
    """

    edges: np.ndarray
    scale: float
    shift: float
    cells: int
    lo: np.ndarray
    first: np.ndarray
    second: np.ndarray
    unresolved: np.ndarray
    any_unresolved: bool
    fallback_share: float

    @classmethod
    def build(cls, profile: NumericProfile, trim: int) -> Binner | None:
        edges = np.asarray(profile.edges, dtype=np.float64)
        k = len(edges)
        if k < 2 or 2 * trim >= k - 1:
            return None
        g0, g1 = edges[trim], edges[k - 1 - trim]
        cells = int(np.clip(8 * k, 256, 1 << 16))
        scale = cells / (g1 - g0)
        if not np.isfinite(scale) or scale <= 0:
            return None
        shift = 1.0 - g0 * scale
        margin = 16 * np.finfo(np.float64).eps * (abs(g0) + abs(g1) + (g1 - g0))
        starts = g0 + (np.arange(cells + 2) - 1) / scale - margin
        starts[0] = -np.inf
        ends = g0 + np.arange(cells + 2) / scale + margin
        ends[-1] = np.inf
        lo = np.searchsorted(edges, starts, side="right")
        inside = np.searchsorted(edges, ends, side="right") - lo
        padded = np.concatenate((edges, [np.inf, np.inf]))
        first = np.where(inside >= 1, padded[lo], np.inf)
        second = np.where(inside >= 2, padded[np.minimum(lo + 1, k + 1)], np.inf)
        unresolved = inside > 2
        parts = (
            edges,
            scale,
            shift,
            cells,
            lo.astype(np.intp),
            first,
            second,
            unresolved,
            bool(unresolved.any()),
        )
        binner = cls(*parts, 0.0)
        # The reference's share that would take the slow path: its values sit at or right of each
        # bin's left edge, so that edge's cell stands for the bin.
        counts = np.asarray(profile.counts, dtype=float)
        left_cells = binner._cells(edges)
        slow = float(counts[1:][unresolved[left_cells]].sum() / max(counts.sum(), 1.0))
        return cls(*parts, slow)

    @classmethod
    def for_profile(cls, profile: NumericProfile) -> Binner | None:
        """The grid (untrimmed, or trimmed of ever longer tails) with the smallest slow share."""
        best: Binner | None = None
        for trim in (0, 2, 10, 50, 200):
            candidate = cls.build(profile, trim)
            if candidate is not None and (best is None or candidate.fallback_share < best.fallback_share):
                best = candidate
            if best is not None and best.fallback_share < 0.01:
                break
        return best if best is not None and best.fallback_share < 0.5 else None

    def _cells(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):  # huge values become +-inf: clipped below
            t = np.multiply(x, self.scale)
            t += self.shift
        np.clip(t, 0, self.cells + 1, out=t)
        cells: np.ndarray = t.astype(np.intp)
        return cells

    def bins(self, x: np.ndarray) -> np.ndarray:
        """Bin index of each finite float64 value."""
        cell = self._cells(x)
        b: np.ndarray = self.lo[cell]
        b += x >= self.first[cell]
        b += x >= self.second[cell]
        if self.any_unresolved:
            slow = np.flatnonzero(self.unresolved[cell])
            if len(slow):
                b[slow] = np.searchsorted(self.edges, x[slow], side="right")
        return b


Binners = Mapping[str, "Binner | None"]


def binners(profile: ReferenceProfile) -> dict[str, Binner | None]:
    """Lookup tables for every numeric column: built once per profile, reused for every window."""
    return {c: Binner.for_profile(p) for c, p in profile.numeric.items()}


def count_numeric(
    series: pd.Series, rows: Rows, profile: NumericProfile, binner: Binner | None = None
) -> NumericCounts:
    """Counts, offsets, nulls and infinities of the window's values on the profile's fine bins."""
    values = _as_float(series, rows)
    edges = np.asarray(profile.edges, dtype=np.float64)
    size = len(edges) + 1 if len(edges) else 1
    counts, sums = np.zeros(size, dtype=np.int64), np.zeros(size)
    n_null = n_inf = 0
    for start in range(0, len(values), CHUNK):
        x = values[start : start + CHUNK]
        finite = np.isfinite(x)
        if not finite.all():
            nan = int(np.isnan(x).sum())
            n_null, n_inf = n_null + nan, n_inf + int(len(x) - finite.sum()) - nan
            x = x[finite]
        if len(edges) == 0:
            counts[0] += len(x)
            sums[0] += float(x.sum())
            continue
        b = binner.bins(x) if binner is not None else np.searchsorted(edges, x, side="right")
        counts += np.bincount(b, minlength=size)
        sums += np.bincount(b, weights=x, minlength=size)
    offsets = stats.bin_offsets(sums, counts, edges) if len(edges) else np.zeros(1)
    return NumericCounts(counts, len(values), n_null, n_inf, offsets, float(sums.sum()))


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
    counts = np.zeros(len(profile.categories), dtype=np.int64)
    unseen: dict[str, int] = {}
    for value, count in per_value.items():
        i = index.get(value)
        if i is None:
            unseen[value] = unseen.get(value, 0) + int(count)
        else:
            counts[i] += int(count)
    other = 0
    if len(unseen) > MAX_UNSEEN_KEPT:
        ranked = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))
        other = sum(n for _, n in ranked[MAX_UNSEEN_KEPT:])
        kept = dict(ranked[:MAX_UNSEEN_KEPT])
    else:
        kept = unseen
    return CategoricalCounts(counts, n_rows, n_null, kept, len(unseen), other)


def _numeric_like(series: pd.Series) -> pd.Series | None:
    """A non-numeric column whose non-null values all parse as numbers, converted; else None."""
    converted = pd.to_numeric(series, errors="coerce")
    return converted if int(converted.isna().sum()) == int(series.isna().sum()) else None


def count_column(
    df: pd.DataFrame,
    column: str,
    rows: Rows,
    profile: ReferenceProfile,
    n_rows: int,
    binner: Binner | None = None,
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
        return count_numeric(series, rows, profile.numeric[column], binner)
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
    tables: Binners | None = None,
) -> WindowCounts:
    """Count every profiled column of ``df[rows]`` (and the score bins when ``score`` is present).

    ``tables`` are the profile's ``binners``; without them a large window builds its own.
    """
    n_rows = len(range(len(df))[rows]) if isinstance(rows, slice) else len(rows)
    columns = profile.columns
    if tables is None:
        tables = binners(profile) if n_rows >= MIN_ROWS_FOR_TABLE else {}

    def one(c: str) -> ColumnCounts:
        return count_column(df, c, rows, profile, n_rows, tables.get(c))

    if n_threads > 1 and len(columns) > 1:
        with ThreadPoolExecutor(n_threads) as pool:
            counted = list(pool.map(one, columns))
    else:
        counted = [one(c) for c in columns]
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
    tables = binners(profile) if len(log) >= MIN_ROWS_FOR_TABLE else {}
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
            tables,
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


def served_by(log: pd.DataFrame, version: str, schema: LogSchema = LogSchema()) -> pd.DataFrame:
    """The rows one model version served (all rows of a log that does not record the version)."""
    if schema.model_version not in log.columns:
        return log
    served = log[schema.model_version].astype("string").eq(str(version)).fillna(False)
    return log[served.to_numpy(dtype=bool)]


def first_window(log: pd.DataFrame, granularity: str, schema: LogSchema = LogSchema()) -> pd.DataFrame:
    """Rows of the earliest window (the baseline when ``monitoring.reference`` is ``baseline_window``)."""
    _require(log, schema.timestamp, "inference log")
    for _, rows in iter_windows(log[schema.timestamp], granularity):
        return log.iloc[rows] if isinstance(rows, slice) else log.take(rows)
    raise ValueError("inference log: no rows, so there is no baseline window")


def build_profile(df: pd.DataFrame, numeric: list[str], categorical: list[str]) -> ReferenceProfile:
    return profile_module.build_profile(df, numeric, categorical)
