"""What the simulator reads and reports: the stacks to apply, who applies them, and failures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from infra.simulate.rules import RULES
from infra.simulate.world import Key
from infra.tfdoc import DocumentIndex


@dataclass(frozen=True)
class StackInput:
    """One synthesized stack and the identity its default provider authenticates as.

    ``workspace_env`` names the environment whose workspace a workspace-level provider talks to (None
    for an account-level provider); aliased workspace providers of the account stack are resolved
    from their ``host`` reference.
    """

    name: str
    index: DocumentIndex
    identity: Key
    account_level: bool
    env: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    rule: str
    stack: str
    where: str  # resource address, or "job <name> task <key>"
    operation: str
    identity: str
    missing: str

    @property
    def source(self) -> str:
        return RULES[self.rule].source

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": self.source, "rule_title": RULES[self.rule].title}

    def __str__(self) -> str:
        return f"{self.rule} {self.stack}: {self.where}: {self.operation} as {self.identity}: {self.missing}"


@dataclass
class Result:
    stacks: list[str]
    resources: int
    job_tasks: int
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stacks": self.stacks,
            "resources": self.resources,
            "job_tasks": self.job_tasks,
            "failures": [f.to_dict() for f in self.failures],
            "notes": self.notes,
        }
