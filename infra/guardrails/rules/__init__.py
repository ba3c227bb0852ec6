"""The rule registry. A check yields violations; ids, severity and fix text live in ``rules.yaml``.

A check is a plain function ``(StackIndex, EnvParams) -> Iterable[Violation]`` registered under a
stable id. Keeping metadata out of code means a severity change is a reviewed data diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infra.guardrails.policy_files import EnvParams
from infra.guardrails.stack import StackIndex
from infra.tfdoc import Resource


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed check. ``resource`` is None for something missing from the whole stack."""

    resource: Resource | None
    message: str
    address: str | None = None

    @property
    def where(self) -> str:
        return self.address or (self.resource.address if self.resource else "<stack>")


Check = Callable[[StackIndex, EnvParams], Iterable[Violation]]
REGISTRY: dict[str, Check] = {}


def rule(rule_id: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id} registered twice")
        REGISTRY[rule_id] = fn
        return fn

    return register


# Imported for their registrations.
from infra.guardrails.rules import (  # noqa: E402
    access,
    account,
    compute,
    jobs,
    lifecycle,
    secrets,
    serving,
    tags,
    workspace,
)

__all__ = [
    "REGISTRY",
    "Violation",
    "access",
    "account",
    "compute",
    "jobs",
    "lifecycle",
    "rule",
    "secrets",
    "serving",
    "tags",
    "workspace",
]
