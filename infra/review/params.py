"""The review's policy data: ``policies/pricing.yaml`` and ``policies/ownership.yaml``.

Both are strict (unknown keys fail) so that a typo never silently drops a price or an approver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.review.errors import ReviewError, problem

ChangeKind = Literal[
    "access",
    "escalation",
    "destructive",
    "policy_loosened",
    "policy_change",
    "cost_increase",
    "guardrail_introduced",
    "any",
]
SEVERITIES = ("info", "low", "medium", "high", "critical")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PricingAssumptions(_Strict):
    worst_case: str
    interactive_hours_per_month: float = Field(gt=0, le=744)
    interactive_clusters_per_policy: int = Field(1, ge=1)
    days_per_month: float = Field(30.44, gt=27, le=31)
    default_run_hours: float = Field(gt=0, le=744)
    paused_schedules_cost: Literal[0] = 0


class Pricing(_Strict):
    source: str = Field(min_length=10)
    as_of: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: str
    tier: str
    cloud: str
    usd_per_dbu: dict[str, float] = Field(min_length=1)
    node_dbus_per_hour: dict[str, float] = Field(default_factory=dict)
    assumptions: PricingAssumptions

    def price(self, kind: str) -> float | None:
        return self.usd_per_dbu.get(kind)

    def assumption_lines(self) -> list[str]:
        a = self.assumptions
        return [
            f"Prices: {self.source.strip()} As of {self.as_of}; {self.currency}, {self.tier}, {self.cloud}.",
            f"Worst case per cluster = {a.worst_case}; VM cost excluded.",
            f"Interactive policies: {a.interactive_clusters_per_policy} cluster at the cap for "
            f"{a.interactive_hours_per_month:g} h/month.",
            f"Scheduled jobs: cron fires per month ({a.days_per_month:g} days) x job timeout_seconds "
            f"(or {a.default_run_hours:g} h) x the job cluster's DBU/h cap; paused schedules cost 0.",
            "Serving endpoints, SQL warehouses and serverless compute are not priced.",
        ]


class Thresholds(_Strict):
    cost_increase_usd_month: float = Field(ge=0)
    cost_increase_ratio: float = Field(ge=0)
    guardrails_fail_on: Literal["info", "low", "medium", "high", "critical"] = "high"


class RuleWhen(_Strict):
    envs: tuple[str, ...] = ()
    changes: tuple[ChangeKind, ...] = Field(min_length=1)


class OwnershipRule(_Strict):
    when: RuleWhen
    approvers: tuple[str, ...] = Field(min_length=1)
    reason: str


class PathOwner(_Strict):
    pattern: str = Field(min_length=1)
    owners: tuple[str, ...] = Field(min_length=1)


class Ownership(_Strict):
    thresholds: Thresholds
    protected_types: tuple[str, ...]
    rules: tuple[OwnershipRule, ...] = ()
    paths: tuple[PathOwner, ...] = ()


@dataclass(frozen=True)
class ReviewParams:
    pricing: Pricing
    ownership: Ownership
    policies_dir: Path


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReviewError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ReviewError(f"{path}: invalid YAML: {exc}") from exc


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(model: type[BaseModel], path: Path) -> Any:
    data = _read(path)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            allowed = None
            if err["type"] == "literal_error":
                allowed = err.get("ctx", {}).get("expected")
            elif err["type"] == "extra_forbidden":
                allowed = ", ".join(model.model_fields) if len(err["loc"]) == 1 else None
            value = err.get("input") if err["type"] != "missing" else None
            problems.append(problem(str(path), _key_path(err["loc"]), err["msg"], value, allowed))
        raise ReviewError(problems) from None


def load_params(policies_dir: Path) -> ReviewParams:
    pricing = _validate(Pricing, policies_dir / "pricing.yaml")
    ownership = _validate(Ownership, policies_dir / "ownership.yaml")
    for kind in ("jobs_compute", "all_purpose"):
        if kind not in pricing.usd_per_dbu:
            raise ReviewError(
                problem(
                    str(policies_dir / "pricing.yaml"),
                    "usd_per_dbu",
                    f"missing the {kind!r} price every review needs",
                    sorted(pricing.usd_per_dbu),
                )
            )
    return ReviewParams(pricing, ownership, policies_dir)
