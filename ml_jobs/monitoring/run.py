"""``run_monitoring``: reference + inference log (+ labels) -> metrics table, decision, report.

Pure apart from the report file it writes: the caller (the ``monitor`` entry point) reads the
tables, stores the metrics and the retraining state, and sends alerts through ``sinks``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pandas as pd

from ml_jobs.monitoring import engine_numpy
from ml_jobs.monitoring.alerting import (
    ComparisonFindings,
    RetrainDecision,
    RetrainState,
    WindowVerdict,
    decide,
    finalise,
)
from ml_jobs.monitoring.compare import INSUFFICIENT, OK, MetricRow, compare_column
from ml_jobs.monitoring.counts import WindowCounts, reference_categorical_counts, reference_numeric_counts
from ml_jobs.monitoring.performance import Performance, performance
from ml_jobs.monitoring.profile import ReferenceProfile, build_profile, with_prediction_baseline
from ml_jobs.monitoring.schema import LogSchema
from mlops_spec.config.monitoring import MonitoringSpec

BASELINE, CONSECUTIVE = "BASELINE", "CONSECUTIVE"
PERFORMANCE_COLUMN = "__performance__"
"""The ``column`` of a window's performance rows (realised with their labels, else estimated)."""
PERFORMANCE_VALUES = ("value", "threshold", "drifted", "status")
"""What late labels restate in a window's performance rows; the rest of a row is its key."""
METRIC_COLUMNS = [
    "window_start",
    "window_end",
    "granularity",
    "drift_type",
    "column",
    "metric",
    "value",
    "threshold",
    "drifted",
    "status",
    "model_name",
    "model_version",
]


@dataclass
class WindowResult:
    start: pd.Timestamp
    end: pd.Timestamp
    n_rows: int
    baseline: ComparisonFindings
    consecutive: ComparisonFindings | None
    performance: Performance | None
    performance_breach: bool | None
    verdict: WindowVerdict
    counts: WindowCounts | None = None


@dataclass
class MonitoringResult:
    metrics: pd.DataFrame
    windows: list[WindowResult]
    decision: RetrainDecision
    profile: ReferenceProfile
    report_path: Path | None = None
    drifted_columns: dict[str, list[str]] = field(default_factory=dict)
    """Per window start (ISO), the columns that drifted against the baseline."""

    @property
    def drift_detected(self) -> bool:
        return any(w.verdict.breach for w in self.windows)


def reference_counts(profile: ReferenceProfile) -> WindowCounts:
    columns: dict[str, Any] = {c: reference_numeric_counts(p) for c, p in profile.numeric.items()}
    columns.update({c: reference_categorical_counts(p) for c, p in profile.categorical.items()})
    return WindowCounts(None, None, profile.n_rows, columns)


def _compare(
    profile: ReferenceProfile,
    base: WindowCounts,
    cur: WindowCounts,
    spec: MonitoringSpec,
    features: list[str],
    schema: LogSchema,
    importances: dict[str, float] | None,
) -> ComparisonFindings:
    results = [
        compare_column(
            c, profile, base.columns[c], cur.columns[c], spec.thresholds, spec.min_samples, schema.score
        )
        for c in profile.columns
    ]
    return finalise(results, spec, features, [schema.score, schema.prediction], importances)


def _performance_breach(
    perf: Performance, spec: MonitoringSpec, reference_value: float | None
) -> tuple[bool | None, float, bool]:
    """(breach or None if unknown, the value judged, whether it is an estimate)."""
    realised = perf.roc_auc if spec.performance.metric == "roc_auc" else perf.accuracy
    if realised is not None and not math.isnan(realised.value):
        value, estimated = realised.value, False
    else:
        value = perf.estimated_roc_auc if spec.performance.metric == "roc_auc" else perf.estimated_accuracy
        estimated = True
    if math.isnan(value):
        return None, value, estimated
    breach = value < spec.performance.min_value
    if reference_value is not None:
        breach |= reference_value - value > spec.performance.max_drop
    return breach, value, estimated


def _performance_rows(
    perf: Performance, spec: MonitoringSpec, breach: bool | None, estimated: bool
) -> list[MetricRow]:
    col, gate = PERFORMANCE_COLUMN, spec.performance.min_value
    rows = [
        MetricRow(col, "n_labelled", float(perf.n_labelled), status="info"),
        MetricRow(col, "label_coverage", perf.label_coverage, status="info"),
    ]
    for name, est in (("roc_auc", perf.roc_auc), ("accuracy", perf.accuracy)):
        judged = name == spec.performance.metric and not estimated
        if est is None:
            rows.append(
                MetricRow(col, name, float("nan"), gate if judged else float("nan"), False, INSUFFICIENT)
            )
            continue
        rows.append(
            MetricRow(col, name, est.value, gate if judged else float("nan"), bool(judged and breach), OK)
        )
        rows += [
            MetricRow(col, f"{name}_ci_low", est.low, status="info"),
            MetricRow(col, f"{name}_ci_high", est.high, status="info"),
        ]
    for name, value in (
        ("estimated_roc_auc", perf.estimated_roc_auc),
        ("estimated_accuracy", perf.estimated_accuracy),
    ):
        judged = estimated and name == f"estimated_{spec.performance.metric}"
        rows.append(
            MetricRow(col, name, value, gate if judged else float("nan"), bool(judged and breach), "estimate")
        )
    return rows


def compare_windows(
    profile: ReferenceProfile,
    windows: Sequence[WindowCounts],
    spec: MonitoringSpec,
    features: list[str],
    schema: LogSchema = LogSchema(),
    importances: dict[str, float] | None = None,
    reference_performance: float | None = None,
) -> list[WindowResult]:
    """Every window against the reference (BASELINE) and against the window before it (CONSECUTIVE)."""
    ref = reference_counts(profile)
    out: list[WindowResult] = []
    previous: WindowCounts | None = None
    for w in windows:
        baseline = _compare(profile, ref, w, spec, features, schema, importances)
        consecutive = (
            _compare(profile, previous, w, spec, features, schema, importances) if previous else None
        )
        perf = performance(w.scores, spec.min_samples) if w.scores is not None else None
        perf_breach, value, estimated = (None, float("nan"), False)
        if perf is not None and w.scores is not None and w.scores.n_rows >= spec.min_samples:
            perf_breach, value, estimated = _performance_breach(perf, spec, reference_performance)
        reasons = []
        if baseline.dataset_drift:
            reasons.append(f"dataset drift share {baseline.dataset_drift_share:.2f}")
        if perf_breach:
            kind = "estimated " if estimated else ""
            reasons.append(f"{kind}{spec.performance.metric} {value:.3f}")
        judged = baseline.dataset_status == OK or perf_breach is not None
        breach = (baseline.dataset_drift or bool(perf_breach)) if judged else None
        verdict = WindowVerdict(pd.Timestamp(w.end).to_pydatetime(), breach, tuple(reasons))
        out.append(
            WindowResult(
                pd.Timestamp(w.start),
                pd.Timestamp(w.end),
                w.n_rows,
                baseline,
                consecutive,
                perf,
                perf_breach,
                verdict,
                w,
            )
        )
        if perf is not None:
            baseline.rows += _performance_rows(perf, spec, perf_breach, estimated)
        previous = w
    return out


def metrics_frame(
    results: list[WindowResult], spec: MonitoringSpec, model_name: str, model_version: str
) -> pd.DataFrame:
    records = []
    for r in results:
        for drift_type, findings in ((BASELINE, r.baseline), (CONSECUTIVE, r.consecutive)):
            if findings is None:
                continue
            records += [
                (
                    r.start,
                    r.end,
                    spec.granularity,
                    drift_type,
                    m.column,
                    m.metric,
                    m.value,
                    m.threshold,
                    bool(m.drifted),
                    m.status,
                    model_name,
                    model_version,
                )
                for m in findings.rows
            ]
    frame = pd.DataFrame.from_records(records, columns=METRIC_COLUMNS)
    return frame.astype({"value": "float64", "threshold": "float64", "drifted": "bool"})


def run_monitoring(
    reference: pd.DataFrame | ReferenceProfile | None,
    current: Any,
    labels: Any,
    spec: MonitoringSpec,
    *,
    numeric_features: Sequence[str],
    categorical_features: Sequence[str] = (),
    model_name: str = "model",
    model_version: str = "1",
    engine: Literal["numpy", "spark"] = "numpy",
    schema: LogSchema = LogSchema(),
    state: RetrainState = RetrainState(),
    importances: dict[str, float] | None = None,
    reference_performance: float | None = None,
    report_dir: str | Path | None = None,
    now: datetime | None = None,
    n_threads: int = 1,
    prediction_reference: ReferenceProfile | None = None,
    served_version: str | None = None,
) -> MonitoringResult:
    """Monitor an inference log (pandas for ``numpy``, Spark DataFrame for ``spark``).

    ``reference`` is the champion's training data (a DataFrame with the feature columns, plus
    ``score``/``prediction`` when available), a stored ``ReferenceProfile``, or ``None`` to use the
    first production window as the baseline (``monitoring.reference: baseline_window``). Score and
    prediction columns missing from the reference are profiled on the first window.

    ``prediction_reference`` is the served version's own prediction baseline (its held-out scores,
    ``profile.prediction_profile``); it replaces any other score reference. ``served_version`` keeps
    only the rows that version served, so its windows are judged against its baselines.
    """
    features = [*numeric_features, *categorical_features]
    eng: ModuleType  # the two engines have the same functions
    if engine == "spark":
        from ml_jobs.monitoring import engine_spark as eng
    elif engine == "numpy":
        eng = engine_numpy
    else:
        raise ValueError(f"engine {engine!r} is not supported; allowed: numpy, spark")
    log = eng.join_labels(current, labels, schema)
    if served_version is not None:
        log = eng.served_by(log, served_version, schema)
    skip_first = False
    if reference is None:
        reference = eng.first_window(log, spec.granularity, schema)
        skip_first = True
    if isinstance(reference, ReferenceProfile):
        profile = reference
    else:
        numeric = [*numeric_features, *([schema.score] if schema.score in reference.columns else [])]
        categorical = [
            *categorical_features,
            *([schema.prediction] if schema.prediction in reference.columns else []),
        ]
        profiler = engine_numpy if isinstance(reference, pd.DataFrame) else eng
        profile = profiler.build_profile(reference, numeric, categorical)
    if prediction_reference is not None:
        profile = with_prediction_baseline(profile, prediction_reference)
    missing_pred = [c for c in (schema.score, schema.prediction) if c not in profile.columns]
    first = None
    if missing_pred and set(missing_pred) <= set(log.columns):
        try:
            first = eng.first_window(log, spec.granularity, schema)
        except ValueError:  # an empty log: no windows to compare anyway
            first = None
    if missing_pred and first is not None:
        extra = eng.build_profile(
            first,
            [schema.score] if schema.score in missing_pred else [],
            [schema.prediction] if schema.prediction in missing_pred else [],
        )
        profile = profile.merged(extra)
    windows = eng.count_windows(log, profile, spec.granularity, schema, n_threads=n_threads)
    if skip_first:
        windows = windows[1:]
    results = compare_windows(profile, windows, spec, features, schema, importances, reference_performance)
    decision = decide([r.verdict for r in results], spec, state, now)
    metrics = metrics_frame(results, spec, model_name, model_version)
    result = MonitoringResult(metrics, results, decision, profile)
    result.drifted_columns = {
        r.start.isoformat(): [c for c, d in r.baseline.drifted.items() if d] for r in results
    }
    if report_dir is not None:
        from ml_jobs.monitoring.report import write_report

        result.report_path = write_report(result, Path(report_dir), model_name, model_version, spec)
    return result


__all__ = ["LogSchema", "MonitoringResult", "build_profile", "run_monitoring"]
