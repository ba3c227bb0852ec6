"""Production governance of a model spec: the settings a job-time ``--set`` may tighten, never loosen.

In a production environment (``production: true`` in ``stacks/<env>.yaml``) the approval requirement,
the gate floors and ceilings, the promotion margin and the fairness limit are reviewed config: an
override at job time may make them stricter (a higher floor, a lower ceiling), never looser, and
never removes a gate (``null``) or points the fairness and segment gates at other columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from mlops_spec.config.errors import Problem
from mlops_spec.config.model_spec import ModelSpec

Direction = Literal["floor", "ceiling", "required", "fixed"]

GOVERNED: dict[tuple[str, str], Direction] = {
    ("promotion", "require_approval"): "required",
    ("promotion", "min_improvement"): "floor",
    ("validation", "min_roc_auc"): "floor",
    ("validation", "min_f1"): "floor",
    ("validation", "segment_min_roc_auc"): "floor",
    ("validation", "max_regression"): "ceiling",
    ("validation", "max_demographic_parity_diff"): "ceiling",
    ("validation", "max_latency_ms"): "ceiling",
    ("validation", "max_model_size_mb"): "ceiling",
    ("data", "sensitive_attribute"): "fixed",
    ("data", "segment_column"): "fixed",
}
"""Each governed setting and which way is looser: a floor may only rise, a ceiling only fall, a
required flag stay on, a fixed column stay the one the gate was reviewed with."""

_ALLOWED = {
    "floor": ">= {0} (overrides may raise a production floor, never lower or remove it)",
    "ceiling": "<= {0} (overrides may lower a production limit, never raise or remove it)",
    "required": "true (production approval cannot be switched off by an override)",
    "fixed": "{0} (the production gate's column cannot be changed by an override)",
}


def _value(spec: ModelSpec, section: str, key: str) -> Any:
    return getattr(getattr(spec, section), key)


def _loosens(direction: Direction, before: Any, after: Any) -> bool:
    if before == after:
        return False
    if direction == "fixed":
        return True
    if direction == "required":
        return bool(before) and not after
    if before is None:  # no gate before: any value adds one
        return False
    if after is None:
        return True
    return bool(after < before) if direction == "floor" else bool(after > before)


def loosened(base: ModelSpec, merged: ModelSpec, file: str, env: str) -> Iterator[Problem]:
    """A problem for every governed setting ``merged`` makes looser than ``base`` (production only)."""
    for (section, key), direction in GOVERNED.items():
        before, after = _value(base, section, key), _value(merged, section, key)
        if _loosens(direction, before, after):
            yield Problem(
                file,
                (section, key),
                f"loosens production governance of {env}",
                after,
                _ALLOWED[direction].format(before),
            )
