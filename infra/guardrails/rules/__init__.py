"""The rule registry. A check yields violations; ids, severity and fix text live in ``rules.yaml``.

A check is a plain function ``(StackIndex, EnvParams) -> Iterable[Violation]`` registered under a
stable id, with the parameters (``params.yaml`` keys) it holds resources against; a violation may
name a narrower set. Keeping metadata out of code means a severity change is a reviewed data diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infra.guardrails.params import EnvParams
from infra.guardrails.stack import StackIndex
from infra.tfdoc import Resource


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed check. ``resource`` is None for something missing from the whole stack."""

    resource: Resource | None
    message: str
    address: str | None = None
    params: tuple[str, ...] | None = None  # params.yaml keys it was held against; None = the rule's

    @property
    def where(self) -> str:
        return self.address or (self.resource.address if self.resource else "<stack>")


Check = Callable[[StackIndex, EnvParams], Iterable[Violation]]
REGISTRY: dict[str, Check] = {}
RULE_PARAMS: dict[str, tuple[str, ...]] = {}


def rule(rule_id: str, *params: str) -> Callable[[Check], Check]:
    """Register a check; ``params`` are the params.yaml keys its findings are held against."""
    unknown = [p for p in params if p not in EnvParams.model_fields]
    if unknown:
        raise ValueError(f"rule {rule_id}: unknown parameters {unknown}")

    def register(fn: Check) -> Check:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id} registered twice")
        REGISTRY[rule_id] = fn
        RULE_PARAMS[rule_id] = params
        return fn

    return register


def is_prod(index: StackIndex, params: EnvParams) -> bool:
    """Production is data (``prod_workspace_envs``), never a hard-coded name."""
    return index.env in params.prod_workspace_envs


# Imported for their registrations.
from infra.guardrails.rules import (  # noqa: E402
    access,
    account,
    compute,
    fleet,
    jobs,
    lifecycle,
    secrets,
    serving,
    tags,
    workspace,
)

__all__ = [
    "REGISTRY",
    "RULE_PARAMS",
    "Violation",
    "access",
    "account",
    "compute",
    "fleet",
    "is_prod",
    "jobs",
    "lifecycle",
    "rule",
    "secrets",
    "serving",
    "tags",
    "workspace",
]
