"""Turning metrics into findings: which columns drifted, did the dataset drift, retrain or not.

A column drifts when an effect-size metric breaches its threshold AND its test (KS or chi-square)
is significant after the multiple-testing correction across the window's columns, or when a
data-quality metric (a significant null-share change, schema; see ``compare``) breaches. Requiring
both an effect and significance keeps two known failure modes out: at a million rows every p-value
is tiny even for undrifted columns, and at a few hundred rows effect sizes are noisy. Windows below
the minimum sample size are "insufficient data", never drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ml_jobs.monitoring.compare import INSUFFICIENT, OK, ColumnResult, MetricRow
from mlops_spec.config.monitoring import MonitoringSpec

NAN = float("nan")


def adjust_p_values(p_values: list[float], method: str) -> list[float]:
    """Benjamini-Hochberg (``scipy.stats.false_discovery_control``) or Bonferroni adjusted p-values,
    clipped to 1. A NaN (no test run) stays NaN and is not counted among the tests."""
    p = np.asarray(p_values, dtype=float)
    if len(p) == 0 or method == "none":
        return [float(v) for v in p]
    if method not in ("bh", "bonferroni"):
        raise ValueError(f"multiple_testing {method!r} is not supported; allowed: bh, bonferroni, none")
    tested = ~np.isnan(p)
    out = p.copy()
    if not tested.any():
        return [float(v) for v in out]
    if method == "bonferroni":
        out[tested] = np.minimum(p[tested] * int(tested.sum()), 1.0)
    else:
        from scipy.stats import false_discovery_control

        out[tested] = false_discovery_control(p[tested], method="bh")
    return [float(v) for v in out]


@dataclass
class ComparisonFindings:
    """One window against one baseline (the reference or the previous window)."""

    columns: list[ColumnResult]
    drifted: dict[str, bool]
    dataset_drift_share: float
    dataset_drift: bool
    dataset_status: str
    prediction_drift: bool
    rows: list[MetricRow] = field(default_factory=list)


def finalise(
    results: list[ColumnResult],
    spec: MonitoringSpec,
    features: list[str],
    prediction_columns: list[str],
    importances: dict[str, float] | None = None,
) -> ComparisonFindings:
    testable = [r for r in results if r.p_value is not None and r.status == OK and not math.isnan(r.p_value)]
    adjusted = dict(
        zip(
            [r.column for r in testable],
            adjust_p_values([r.p_value for r in testable if r.p_value is not None], spec.multiple_testing),
            strict=True,
        )
    )
    alpha = spec.thresholds.p_value
    drifted: dict[str, bool] = {}
    rows: list[MetricRow] = []
    for r in results:
        significant = False
        if r.column in adjusted and r.p_value is not None:
            p_adj = adjusted[r.column]
            significant = p_adj < alpha
            rows.append(MetricRow(r.column, "p_value_adjusted", p_adj, alpha, significant, OK))
            rows.append(MetricRow(r.column, "p_value", float(r.p_value), status="info"))
        drifted[r.column] = (r.effect_breach and significant) or r.quality_breach
        rows.extend(r.rows)
        rows.append(
            MetricRow(
                r.column,
                "drift",
                float(drifted[r.column]),
                NAN,
                drifted[r.column],
                r.status if not drifted[r.column] else OK,
            )
        )
    share, status = drift_share(results, drifted, features, spec, importances)
    dataset_drift = status == OK and share >= spec.drift_share
    rows.append(MetricRow("__dataset__", "drift_share", share, spec.drift_share, dataset_drift, status))
    prediction_drift = any(drifted.get(c, False) for c in prediction_columns)
    rows.append(MetricRow("__prediction__", "drift", float(prediction_drift), NAN, prediction_drift, OK))
    return ComparisonFindings(results, drifted, share, dataset_drift, status, prediction_drift, rows)


def drift_share(
    results: list[ColumnResult],
    drifted: dict[str, bool],
    features: list[str],
    spec: MonitoringSpec,
    importances: dict[str, float] | None,
) -> tuple[float, str]:
    """Drifted share of the features that could be judged (optionally importance-weighted)."""
    judged = [
        r.column for r in results if r.column in features and (r.status != INSUFFICIENT or drifted[r.column])
    ]
    if not judged:
        return NAN, INSUFFICIENT
    if spec.importance_weighted:
        if not importances:
            raise ValueError("monitoring.importance_weighted is true but no feature importances were given")
        weights = {c: max(float(importances.get(c, 0.0)), 0.0) for c in judged}
    else:
        weights = dict.fromkeys(judged, 1.0)
    total = sum(weights.values())
    if total == 0:
        return NAN, INSUFFICIENT
    return sum(w for c, w in weights.items() if drifted[c]) / total, OK


# --- retraining decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrainState:
    """What the previous monitor run left behind; stored between runs (one row per distinct state)."""

    consecutive_breaches: int = 0
    last_retrain_at: datetime | None = None
    """When the last retraining was started (the cooldown counts from here): set only once it ran."""
    last_window_end: datetime | None = None
    """Windows ending at or before this were already counted by an earlier run."""
    pending_request: str | None = None
    """A retraining that was decided but has not run yet (trigger refused, failed or disabled)."""
    pending_reason: str | None = None
    last_request: str | None = None
    """The last retraining request that was started."""

    def to_dict(self) -> dict[str, object]:
        return {
            "consecutive_breaches": self.consecutive_breaches,
            "last_retrain_at": self.last_retrain_at.isoformat() if self.last_retrain_at else None,
            "last_window_end": self.last_window_end.isoformat() if self.last_window_end else None,
            "pending_request": self.pending_request,
            "pending_reason": self.pending_reason,
            "last_request": self.last_request,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RetrainState:
        def ts(key: str) -> datetime | None:
            value = raw.get(key)
            return datetime.fromisoformat(str(value)) if value else None

        def text(key: str) -> str | None:
            value = raw.get(key)
            return str(value) if value else None

        return cls(
            int(raw.get("consecutive_breaches", 0) or 0),
            ts("last_retrain_at"),
            ts("last_window_end"),
            text("pending_request"),
            text("pending_reason"),
            text("last_request"),
        )


@dataclass(frozen=True)
class WindowVerdict:
    end: datetime
    breach: bool | None
    """True/False, or None when the window had too little data to judge."""
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    state: RetrainState
    """State to store for the next run."""


def decide(
    verdicts: list[WindowVerdict], spec: MonitoringSpec, state: RetrainState, now: datetime | None = None
) -> RetrainDecision:
    """Retrain after ``consecutive_windows`` breaching windows in a row, outside the cooldown.

    Insufficient-data windows neither extend nor break a run of breaches. Windows already seen by an
    earlier run are skipped, so re-running over overlapping periods does not count twice.
    """
    now = now or datetime.now(UTC)
    streak, last_end = state.consecutive_breaches, state.last_window_end
    reasons: list[str] = []
    for v in sorted(verdicts, key=lambda v: v.end):
        if last_end is not None and v.end <= last_end:
            continue
        last_end = v.end
        if v.breach is None:
            continue
        streak = streak + 1 if v.breach else 0
        reasons = list(v.reasons) if v.breach else []
    new_state = replace(state, consecutive_breaches=streak, last_window_end=last_end)
    k = spec.consecutive_windows
    if streak < k:
        return RetrainDecision(False, f"{streak} of {k} consecutive breaching windows", new_state)
    cooldown_end = (
        state.last_retrain_at + timedelta(days=spec.cooldown_days) if state.last_retrain_at else None
    )
    if cooldown_end is not None and now < cooldown_end:
        return RetrainDecision(
            False,
            f"{streak} consecutive breaching windows, but in cooldown until {cooldown_end.isoformat()}",
            new_state,
        )
    why = ", ".join(reasons) or "breach"
    return RetrainDecision(
        True,
        f"{streak} consecutive breaching windows ({why})",
        replace(new_state, consecutive_breaches=0, last_retrain_at=now),
    )
