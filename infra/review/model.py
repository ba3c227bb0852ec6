"""The review's data: what changed per environment, and the verdict. Renderers read only this."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from infra.review.access import AccessChange
from infra.review.cost import CostLine
from infra.review.guardrail_policy import LOOSENED, GuardrailChange
from infra.review.policy_rules import PolicyDiff

VERDICTS = ("pass", "warn", "block")


@dataclass(frozen=True, slots=True)
class AttrDiff:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    type: str
    name: str  # human name: UC full name, job name, group display name
    action: str  # create | update | replace | delete
    destructive: bool
    protected: bool
    reason: str = ""  # why it is a replace: "address change ...", "name forces replacement"
    attrs: tuple[AttrDiff, ...] = ()
    old_address: str | None = None
    protection: str = ""  # destructive only: what prevent_destroy does (and does not do) here

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attrs"] = [asdict(a) for a in self.attrs]
        return out


@dataclass(frozen=True, slots=True)
class WorkspaceEffect:
    """One change as it touches one workspace."""

    part: str  # workspace | network | keys | credentials | storage | metastore | access
    address: str
    action: str  # create | update | replace | delete
    what: str  # what it does to the workspace, in a sentence


@dataclass(frozen=True, slots=True)
class WorkspaceImpact:
    """The account-stack changes that touch one workspace (``infra.review.workspace_impact``)."""

    workspace: str  # its name (workspace_name), or "workspace <id>" for an existing one
    key: str  # the databricks_mws_workspaces address, or "workspace <id>"
    effects: tuple[WorkspaceEffect, ...]

    @property
    def destructive(self) -> bool:
        """Something the workspace is or runs on is destroyed (a lost permission is listed, not this)."""
        return any(e.action in ("replace", "delete") and e.part != "access" for e in self.effects)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "key": self.key,
            "destructive": self.destructive,
            "effects": [asdict(e) for e in self.effects],
        }


@dataclass(frozen=True, slots=True)
class FindingDelta:
    change: str  # introduced | resolved
    rule_id: str
    severity: str
    address: str
    message: str
    waived: bool


@dataclass(frozen=True, slots=True)
class Cost:
    policies_before: tuple[CostLine, ...]
    policies_after: tuple[CostLine, ...]
    jobs_before: tuple[CostLine, ...]
    jobs_after: tuple[CostLine, ...]
    monthly_before: float
    monthly_after: float
    budget_usd_month: float | None = None

    @property
    def delta(self) -> float:
        return self.monthly_after - self.monthly_before

    @property
    def unpriced(self) -> tuple[CostLine, ...]:
        """Scheduled jobs (after the change) the estimate could not price: never a silent $0."""
        return tuple(j for j in self.jobs_after if j.usd_per_month is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "monthly_before_usd": round(self.monthly_before, 2),
            "monthly_after_usd": round(self.monthly_after, 2),
            "delta_usd": round(self.delta, 2),
            "budget_usd_month": self.budget_usd_month,
            "unpriced_jobs": [j.address for j in self.unpriced],
            "policies": _pair(self.policies_before, self.policies_after),
            "jobs": _pair(self.jobs_before, self.jobs_after),
        }


def _pair(before: tuple[CostLine, ...], after: tuple[CostLine, ...]) -> list[dict[str, Any]]:
    b = {c.address: c for c in before}
    a = {c.address: c for c in after}
    return [
        {
            "address": addr,
            "name": (a.get(addr) or b[addr]).name,
            "before": b[addr].to_dict() if addr in b else None,
            "after": a[addr].to_dict() if addr in a else None,
        }
        for addr in sorted(set(b) | set(a))
    ]


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A destroy of a protected resource that ``policies/decommissions.yaml`` acknowledges."""

    address: str
    entry: str  # "policies/decommissions.yaml: decommissions[0]"
    owner: str
    reason: str
    expires: str


@dataclass(frozen=True, slots=True)
class Approval:
    """One team's approval and every reason the change needs it (rules, waivers, paths)."""

    team: str
    reasons: tuple[str, ...]
    envs: tuple[str, ...]  # environments the reasons concern (empty: path ownership only)


@dataclass
class EnvReview:
    env: str
    source: str  # "synthesized diff" or "plan <file>"
    verdict: str = "pass"
    reasons: list[str] = field(default_factory=list)
    changes: list[ResourceChange] = field(default_factory=list)
    access: list[AccessChange] = field(default_factory=list)
    policies: list[PolicyDiff] = field(default_factory=list)
    findings: list[FindingDelta] = field(default_factory=list)
    guardrail_policy: list[GuardrailChange] = field(default_factory=list)
    cost: Cost | None = None
    kinds: set[str] = field(default_factory=set)  # change kinds for the ownership rules
    notes: list[str] = field(default_factory=list)
    acknowledged: dict[str, Acknowledged] = field(default_factory=dict)  # address -> acknowledgement
    workspaces: list[WorkspaceImpact] = field(default_factory=list)  # account stack: changes by workspace

    @property
    def destructive(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.destructive and c.protected]

    @property
    def unacknowledged(self) -> list[ResourceChange]:
        return [c for c in self.destructive if c.address not in self.acknowledged]

    @property
    def escalations(self) -> list[AccessChange]:
        return [a for a in self.access if a.escalation]

    @property
    def guardrails_loosened(self) -> list[GuardrailChange]:
        return [c for c in self.guardrail_policy if c.direction == LOOSENED or c.below_floor]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            row = out.setdefault(c.type, {"create": 0, "update": 0, "replace": 0, "delete": 0})
            row[c.action] += 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "source": self.source,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "counts": self.counts(),
            "destructive": [c.address for c in self.destructive],
            "acknowledged": {a: asdict(ack) for a, ack in sorted(self.acknowledged.items())},
            "changes": [c.to_dict() for c in self.changes],
            "access": [a.to_dict() for a in self.access],
            "policies": [p.to_dict() for p in self.policies],
            "findings": [asdict(f) for f in self.findings],
            "guardrail_policy": [c.to_dict() for c in self.guardrail_policy],
            "cost": self.cost.to_dict() if self.cost else None,
            "workspaces": [w.to_dict() for w in self.workspaces],
            "kinds": sorted(self.kinds),
            "notes": self.notes,
        }


@dataclass
class Review:
    base: str
    head: str
    envs: list[EnvReview]
    approvals: list[Approval] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return max((e.verdict for e in self.envs), key=VERDICTS.index, default="pass")

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "verdict": self.verdict,
            "envs": {e.env: e.to_dict() for e in self.envs},
            "approvals": [asdict(a) for a in self.approvals],
            "assumptions": self.assumptions,
            "notes": self.notes,
        }
