"""Each gate is a pure function of predictions, metrics or model facts, returning a GateResult.

A gate is ``skipped`` when it cannot apply (no champion yet, gate disabled in the spec); a skipped
gate does not block promotion. The thresholds come from ``validation:`` in ``stacks/models.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ml_jobs.training.pipeline import THRESHOLD

Status = Literal["passed", "failed", "skipped"]
MIN_GROUP_ROWS = 30
"""Segments and sensitive groups smaller than this are reported but not judged: too noisy."""


@dataclass(frozen=True)
class GateResult:
    name: str
    status: Status
    value: float | None
    threshold: float | None
    detail: str
    data: Mapping[str, Any] | None = None

    @property
    def blocks(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _judge(name: str, ok: bool, value: float, threshold: float, detail: str, **data: Any) -> GateResult:
    return GateResult(
        name, "passed" if ok else "failed", float(value), float(threshold), detail, data or None
    )


def skipped(name: str, why: str) -> GateResult:
    return GateResult(name, "skipped", None, None, why)


def min_metric(name: str, metrics: Mapping[str, float], metric: str, floor: float) -> GateResult:
    value = metrics[metric]
    return _judge(name, value >= floor, value, floor, f"{metric} {value:.4f} must be >= {floor}")


def non_degenerate(proba: np.ndarray) -> GateResult:
    """The classifier must tell rows apart: predicting one class for everyone fails, whatever its F1.

    A constant "positive" reaches an F1 of 2p/(1+p) at prevalence p (0.4 at 25%), so ``min_f1``
    alone does not catch it.
    """
    pred = np.asarray(proba) >= THRESHOLD
    share = float(pred.mean()) if len(pred) else 0.0
    ok = 0.0 < share < 1.0
    return _judge(
        "non_degenerate",
        ok,
        share,
        0.0,
        f"share of held-out rows predicted positive {share:.4f} must be strictly between 0 and 1",
    )


def no_regression(
    challenger_auc: float, champion_auc: float | None, max_drop: float, champion_version: str | None
) -> GateResult:
    if champion_auc is None:
        return skipped("no_regression", "no champion yet")
    drop = champion_auc - challenger_auc
    return _judge(
        "no_regression",
        drop <= max_drop,
        drop,
        max_drop,
        f"ROC-AUC {challenger_auc:.4f} vs champion v{champion_version} {champion_auc:.4f} on the same "
        f"held-out rows: drop {drop:+.4f} must be <= {max_drop}",
        champion_version=champion_version,
        champion_roc_auc=champion_auc,
    )


def _group_sizes_ok(groups: pd.Series) -> tuple[list[Any], list[Any]]:
    counts = groups.value_counts()
    return sorted(counts[counts >= MIN_GROUP_ROWS].index), sorted(counts[counts < MIN_GROUP_ROWS].index)


def segment_floor(segments: pd.Series, y: np.ndarray, proba: np.ndarray, floor: float | None) -> GateResult:
    if floor is None:
        return skipped("segment_floor", "disabled (validation.segment_min_roc_auc is null)")
    judged, small = _group_sizes_ok(segments)
    per_segment: dict[str, float] = {}
    for seg in judged:
        mask = (segments == seg).to_numpy()
        if len(np.unique(y[mask])) == 2:
            per_segment[str(seg)] = float(roc_auc_score(y[mask], proba[mask]))
    if not per_segment:
        return skipped("segment_floor", f"no segment with >= {MIN_GROUP_ROWS} rows and both classes")
    worst = min(per_segment, key=per_segment.__getitem__)
    return _judge(
        "segment_floor",
        per_segment[worst] >= floor,
        per_segment[worst],
        floor,
        f"worst segment {worst!r} ROC-AUC {per_segment[worst]:.4f} must be >= {floor}",
        per_segment=per_segment,
        too_small=[str(s) for s in small],
    )


def demographic_parity(groups: pd.Series, proba: np.ndarray, max_diff: float | None) -> GateResult:
    """Largest difference of positive-prediction rates between sensitive groups."""
    if max_diff is None:
        return skipped("demographic_parity", "disabled (validation.max_demographic_parity_diff is null)")
    judged, small = _group_sizes_ok(groups)
    if len(judged) < 2:
        return skipped("demographic_parity", f"fewer than two groups with >= {MIN_GROUP_ROWS} rows")
    pred = proba >= THRESHOLD
    rates = {str(g): float(pred[(groups == g).to_numpy()].mean()) for g in judged}
    diff = max(rates.values()) - min(rates.values())
    return _judge(
        "demographic_parity",
        diff <= max_diff,
        diff,
        max_diff,
        f"positive-rate difference across groups {diff:.4f} must be <= {max_diff}",
        rates=rates,
        too_small=[str(s) for s in small],
    )


def latency(rounds_ms: list[list[float]], budget_ms: float) -> GateResult:
    """p95 of the best of several rounds: a busy neighbour slows one round, not the model."""
    p95s = [float(np.percentile(samples, 95)) for samples in rounds_ms]
    best = min(p95s)
    return _judge(
        "latency",
        best <= budget_ms,
        best,
        budget_ms,
        f"p95 single-row prediction {best:.2f} ms (best of {len(p95s)} rounds) must be <= {budget_ms} ms",
        rounds_p95=p95s,
    )


def model_size(size_mb: float, budget_mb: float) -> GateResult:
    return _judge(
        "model_size",
        size_mb <= budget_mb,
        size_mb,
        budget_mb,
        f"model artifacts {size_mb:.2f} MB must be <= {budget_mb} MB",
    )


def _columns(schema: Any) -> dict[str, str]:
    return {c["name"]: c["type"] for c in schema.to_dict()} if schema is not None else {}


def signature_compatible(challenger: Any, champion: Any, champion_version: str | None) -> GateResult:
    """The challenger must accept what the champion accepts: same input columns with the same types."""
    if champion_version is None:
        return skipped("signature", "no champion yet")
    if challenger is None or champion is None:
        return GateResult("signature", "failed", None, None, "a model version has no signature")
    new, old = _columns(challenger.inputs), _columns(champion.inputs)
    missing = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    changed = sorted(c for c in set(old) & set(new) if old[c] != new[c])
    ok = not (missing or added or changed)
    detail = (
        "inputs match the champion"
        if ok
        else (
            f"inputs differ from champion v{champion_version}: missing {missing}, added {added}, "
            f"type changed {[(c, old[c], new[c]) for c in changed]}"
        )
    )
    return GateResult("signature", "passed" if ok else "failed", None, None, detail)
