"""The engine's data: normalised resources, findings and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import Any

from infra.tfdoc.document import Resource
from mlops_spec.exit_codes import EXIT_OK, EXIT_REFUSED

__all__ = ["Finding", "Report", "Resource", "RuleSpec", "Severity", "Waiver"]


class Severity(IntEnum):
    info = 0
    low = 1
    medium = 2
    high = 3
    critical = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.lower()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r}; allowed: {', '.join(s.name for s in cls)}"
            ) from None


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    name: str
    severity: Severity
    title: str
    rationale: str
    fix: str
    envs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Waiver:
    rule: str
    env: str
    resource: str
    reason: str
    owner: str
    expires: date
    index: int  # position in the waivers file, for error messages


@dataclass(frozen=True, slots=True)
class Finding:
    rule: RuleSpec
    env: str
    address: str
    message: str
    source: str
    construct_path: str | None = None
    waiver: Waiver | None = None
    held_against: tuple[str, ...] = ()  # the params it was held against: "max_workers = 32 (file: key)"
    setting: str | None = None  # where in stacks/ or policies/ the offending resource comes from

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule.id,
            "rule_name": self.rule.name,
            "severity": self.rule.severity.name,
            "env": self.env,
            "address": self.address,
            "message": self.message,
            "fix": self.rule.fix,
            "source": self.source,
            "construct_path": self.construct_path,
            "held_against": list(self.held_against),
            "setting": self.setting,
            "waived": self.waived,
        }
        if self.waiver:
            out["waiver"] = {
                "reason": self.waiver.reason,
                "owner": self.waiver.owner,
                "expires": self.waiver.expires.isoformat(),
            }
        return out


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    rules: list[RuleSpec]
    envs: list[str]
    resource_count: int
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def unwaived(self, fail_on: Severity = Severity.low) -> list[Finding]:
        return [f for f in self.findings if not f.waived and f.rule.severity >= fail_on]

    def exit_code(self, fail_on: Severity = Severity.low) -> int:
        return EXIT_REFUSED if self.unwaived(fail_on) else EXIT_OK

    def counts(self) -> dict[str, int]:
        return {
            "resources": self.resource_count,
            "findings": len(self.findings),
            "unwaived": sum(not f.waived for f in self.findings),
            "waived": sum(f.waived for f in self.findings),
        }
