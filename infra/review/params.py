"""The review's policy data: ``policies/pricing.yaml`` and ``policies/ownership.yaml``.

Both are read by the one YAML kernel (:mod:`mlops_spec.config.kernel`) and are strict (unknown or
duplicated keys fail) so that a typo never silently drops a price or an approver. The ownership
model is the guardrails' (:mod:`infra.guardrails.ownership`): waivers name its teams too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from infra.guardrails.ownership import (
    ChangeKind,
    Ownership,
    OwnershipRule,
    PathOwner,
    RuleWhen,
    Thresholds,
    load_ownership,
)
from infra.review.decommissions import Decommission, load_decommissions
from infra.review.errors import ReviewError, problem
from mlops_spec.config.base import Spec
from mlops_spec.config.errors import ConfigError
from mlops_spec.config.kernel import display_path, load

__all__ = [
    "ChangeKind",
    "Ownership",
    "OwnershipRule",
    "PathOwner",
    "Pricing",
    "ReviewParams",
    "RuleWhen",
    "Thresholds",
    "load_params",
]


class PricingAssumptions(Spec):
    worst_case: str
    interactive_hours_per_month: float = Field(gt=0, le=744)
    interactive_clusters_per_policy: int = Field(1, ge=1)
    days_per_month: float = Field(30.44, gt=27, le=31)
    default_run_hours: float = Field(gt=0, le=744)
    paused_schedules_cost: Literal[0] = 0
    warehouse_hours_per_month: float = Field(176, gt=0, le=744)


class Pricing(Spec):
    source: str = Field(min_length=10)
    as_of: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: str
    tier: str
    cloud: str
    usd_per_dbu: dict[str, float] = Field(min_length=1)
    node_dbus_per_hour: dict[str, float] = Field(default_factory=dict)
    warehouse_dbus_per_hour: dict[str, float] = Field(
        default_factory=dict, description="DBU/h of one SQL warehouse cluster by cluster_size."
    )
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
            f"SQL warehouses: max_num_clusters x DBU/h of their size for "
            f"{a.warehouse_hours_per_month:g} h/month (auto-stop keeps them off outside use).",
            "Serving endpoints and serverless job compute are not priced.",
        ]


@dataclass(frozen=True)
class ReviewParams:
    pricing: Pricing
    ownership: Ownership
    policies_dir: Path
    decommissions: tuple[Decommission, ...] = ()  # acknowledged destroys (policies/decommissions.yaml)


def load_params(policies_dir: Path) -> ReviewParams:
    try:
        pricing = load(policies_dir / "pricing.yaml", Pricing)
        ownership = load_ownership(policies_dir)
    except ConfigError as exc:
        raise ReviewError([str(p) for p in exc.problems]) from None
    for kind in ("jobs_compute", "all_purpose"):
        if kind not in pricing.usd_per_dbu:
            raise ReviewError(
                problem(
                    display_path(policies_dir / "pricing.yaml"),
                    "usd_per_dbu",
                    f"missing the {kind!r} price every review needs",
                    sorted(pricing.usd_per_dbu),
                )
            )
    return ReviewParams(pricing, ownership, policies_dir, load_decommissions(policies_dir, ownership))
