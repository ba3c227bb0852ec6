"""Model risk score: one number in [0, 1] and a tier, from five measured or declared components.

Each component is scaled to [0, 1] (1 = the level at which it alone is a serious concern), then
weighted. A component that could not be measured (no sensitive attribute, no segments) counts as
0.5: an unmeasured risk is not an absent one. The formula is rendered into the model card as is.
The tier is exposed (version tag ``risk_tier``) for the approval chain to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Tier = Literal["low", "medium", "high"]

CRITICALITY = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
WEIGHTS = {
    "criticality": 0.30,
    "fairness_gap": 0.20,
    "calibration_error": 0.15,
    "segment_spread": 0.15,
    "drift_sensitivity": 0.20,
}
SCALES = {
    "fairness_gap": 0.20,
    "calibration_error": 0.10,
    "segment_spread": 0.20,
    "drift_sensitivity": 0.10,
}
"""The raw value at which a component reaches 1: a 0.20 positive-rate gap between groups, an ECE of
0.10, a 0.20 ROC-AUC spread between segments, a mean score change of 0.10 under the drift probe."""
UNMEASURED = 0.5
HIGH, MEDIUM = 0.6, 0.4
"""Tier cut-offs: score >= HIGH is high risk, >= MEDIUM medium, else low."""
DRIFT_PROBE_STD = 0.5
"""The drift probe shifts one numeric feature at a time by this many training standard deviations."""

FORMULA = (
    "risk = "
    + " + ".join(f"{w:.2f}*{k}" for k, w in WEIGHTS.items())
    + "; criticality: low 0.25, medium 0.5, high 0.75, critical 1.0; "
    + "; ".join(f"{k} = min(1, value / {s})" for k, s in SCALES.items())
    + f"; unmeasured = {UNMEASURED}; tier: high >= {HIGH}, medium >= {MEDIUM}, else low"
)


@dataclass(frozen=True)
class RiskScore:
    score: float
    tier: Tier
    components: Mapping[str, float]
    """Each component scaled to [0, 1]."""
    raw: Mapping[str, float | str | None]
    """What was measured (None: could not be)."""
    formula: str = FORMULA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tier_of(score: float) -> Tier:
    return "high" if score >= HIGH else "medium" if score >= MEDIUM else "low"


def _scaled(name: str, value: float | None) -> float:
    return UNMEASURED if value is None else min(1.0, max(0.0, value) / SCALES[name])


def risk_score(
    criticality: str,
    fairness_gap: float | None,
    calibration_error: float,
    segment_spread: float | None,
    drift_sensitivity: float,
) -> RiskScore:
    if criticality not in CRITICALITY:
        raise ValueError(f"unknown criticality {criticality!r}; allowed: {', '.join(CRITICALITY)}")
    raw: dict[str, float | str | None] = {
        "criticality": criticality,
        "fairness_gap": fairness_gap,
        "calibration_error": calibration_error,
        "segment_spread": segment_spread,
        "drift_sensitivity": drift_sensitivity,
    }
    components = {"criticality": CRITICALITY[criticality]}
    for name in SCALES:
        value = raw[name]
        components[name] = _scaled(name, None if value is None else float(value))
    score = round(sum(WEIGHTS[k] * components[k] for k in WEIGHTS), 4)
    return RiskScore(score, tier_of(score), components, raw)
