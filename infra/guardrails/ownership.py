"""Who answers for what: ``policies/ownership.yaml``, read by the guardrails and the review.

The guardrails need the teams (a waiver's owner must be one, and the team that approves loosening
the gate is named in its errors); the review needs all of it (approval rules, path owners,
thresholds, protected types). It lives here, in the lower layer, so both read one model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from mlops_spec.config.base import Spec
from mlops_spec.config.kernel import load

OWNERSHIP_FILE = "ownership.yaml"
ChangeKind = Literal[
    "access",
    "escalation",
    "destructive",
    "policy_loosened",
    "policy_change",
    "guardrail_loosened",
    "cost_increase",
    "guardrail_introduced",
    "any",
]
GUARDRAIL_LOOSENED: ChangeKind = "guardrail_loosened"


class Thresholds(Spec):
    cost_increase_usd_month: float = Field(ge=0, description="Monthly worst-case cost increase that warns.")
    cost_increase_ratio: float = Field(ge=0, description="... or this fraction of the environment's base.")
    guardrails_fail_on: Literal["info", "low", "medium", "high", "critical"] = Field(
        "high", description="Introduced guardrail findings at or above this severity block."
    )


class RuleWhen(Spec):
    envs: tuple[str, ...] = Field((), description="Environments the rule applies to; empty = all.")
    changes: tuple[ChangeKind, ...] = Field(min_length=1, description="Change kinds that trigger it.")


class OwnershipRule(Spec):
    when: RuleWhen
    approvers: tuple[str, ...] = Field(min_length=1, description="Team handles from `teams`.")
    reason: str


class PathOwner(Spec):
    pattern: str = Field(min_length=1, description="A CODEOWNERS (gitignore-style) pattern.")
    owners: tuple[str, ...] = Field(min_length=1, description="Team handles from `teams`.")


class Ownership(Spec):
    teams: dict[str, str] = Field(
        min_length=1, description="GitHub team handle -> what it answers for. Approvers and waiver owners."
    )
    thresholds: Thresholds
    protected_types: tuple[str, ...]
    rules: tuple[OwnershipRule, ...] = ()
    paths: tuple[PathOwner, ...] = ()

    @model_validator(mode="after")
    def _known_teams(self) -> Ownership:
        # A misspelt handle would route an approval to nobody.
        named = [h for r in self.rules for h in r.approvers] + [h for p in self.paths for h in p.owners]
        unknown = sorted({h for h in named if h not in self.teams})
        if unknown:
            raise ValueError(f"approvers/owners {unknown} are not in teams ({', '.join(self.teams)})")
        if not self.approvers_for(GUARDRAIL_LOOSENED):
            raise ValueError(f"no rule names approvers for {GUARDRAIL_LOOSENED!r} changes (security owner)")
        return self

    def approvers_for(self, kind: str) -> tuple[str, ...]:
        """Every team a rule for ``kind`` names, in file order, once each."""
        out: list[str] = []
        for rule in self.rules:
            if kind in rule.when.changes:
                out += [a for a in rule.approvers if a not in out]
        return tuple(out)


def load_ownership(policies_dir: Path) -> Ownership:
    """``policies/ownership.yaml`` validated; raises ConfigError with key paths."""
    return load(policies_dir / OWNERSHIP_FILE, Ownership)
