"""Cluster policy definitions compared rule by rule, with the direction of each change.

``autotermination_minutes: fixed 30 -> range max 120`` reads better than a JSON string diff, and
saying "loosened" tells the reviewer where to look: a fixed value becoming a range, a higher
maximum, a growing allowlist, a forbidden attribute becoming allowed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

# Attributes where a larger number admits more compute, cost or idle time.
_HIGHER_IS_LOOSER = (
    "dbus_per_hour",
    "autotermination_minutes",
    "autoscale.max_workers",
    "autoscale.min_workers",
    "num_workers",
    "max_workers",
)
# Attributes where a larger number is stricter (none are common; kept explicit for the reader).
_LOWER_IS_LOOSER: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleChange:
    attribute: str
    before: str  # "fixed 30", "range max 120", "(no rule)"
    after: str
    direction: str  # loosened | tightened | changed | added | removed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    env: str
    address: str
    name: str
    changes: tuple[RuleChange, ...]
    unparsable: str | None = None

    @property
    def loosened(self) -> bool:
        return any(c.direction == "loosened" for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "address": self.address,
            "name": self.name,
            "loosened": self.loosened,
            "changes": [c.to_dict() for c in self.changes],
            "unparsable": self.unparsable,
        }


def parse_definition(value: Any) -> dict[str, Any]:
    """A policy ``definition`` (JSON string or already a map) as {attribute path: rule}."""
    if value in (None, ""):
        return {}
    data = json.loads(value) if isinstance(value, str) else value
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of attribute rules, got {type(data).__name__}")
    return data


def _fmt(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) and value.strip() != value else str(value)


def describe(rule: dict[str, Any] | None) -> str:
    """One rule in a few words: ``fixed 30 (hidden)``, ``range 1..8``, ``allowlist [a, b]``."""
    if rule is None:
        return "(no rule)"
    kind = rule.get("type", "?")
    hidden = " (hidden)" if rule.get("hidden") else ""
    if kind == "fixed":
        return f"fixed {_fmt(rule.get('value'))}{hidden}"
    if kind == "range":
        lo, hi = rule.get("minValue"), rule.get("maxValue")
        if lo is not None and hi is not None:
            text = f"range {_num(lo)}..{_num(hi)}"
        elif hi is not None:
            text = f"range max {_num(hi)}"
        elif lo is not None:
            text = f"range min {_num(lo)}"
        else:
            text = "range (unbounded)"
        return text + (f" default {_num(rule['defaultValue'])}" if "defaultValue" in rule else "") + hidden
    if kind in ("allowlist", "blocklist"):
        values = ", ".join(_fmt(v) for v in rule.get("values", []))
        return f"{kind} [{values}]{hidden}"
    if kind == "regex":
        return f"regex {rule.get('pattern')}{hidden}"
    if kind == "unlimited":
        default = f" default {_fmt(rule['defaultValue'])}" if "defaultValue" in rule else ""
        return f"unlimited{default}{' optional' if rule.get('isOptional') else ''}"
    return f"{kind}{hidden}"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bound(rule: dict[str, Any], higher: bool) -> float | None:
    """The largest (or smallest) value a rule admits; None = unbounded."""
    kind = rule.get("type")
    if kind == "fixed" and isinstance(rule.get("value"), int | float):
        return float(rule["value"])
    if kind == "range":
        key = "maxValue" if higher else "minValue"
        return float(rule[key]) if isinstance(rule.get(key), int | float) else None
    if kind == "allowlist":
        nums = [float(v) for v in rule.get("values", []) if isinstance(v, int | float)]
        return (max(nums) if higher else min(nums)) if nums else None
    return None


# How much a rule admits, from nothing (forbidden) to anything (no rule, unlimited).
_BREADTH = {
    "forbidden": 0,
    "fixed": 1,
    "allowlist": 2,
    "range": 2,
    "regex": 2,
    "blocklist": 3,
    "unlimited": 4,
}


def direction(attribute: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    if before is None:
        return "added" if after and after.get("type") != "unlimited" else "loosened"
    if after is None:
        return "loosened" if before.get("type") != "unlimited" else "changed"
    kb, ka = before.get("type"), after.get("type")
    numeric = attribute in _HIGHER_IS_LOOSER or attribute in _LOWER_IS_LOOSER
    if numeric:
        higher = attribute in _HIGHER_IS_LOOSER
        b, a = _bound(before, higher), _bound(after, higher)
        if kb == ka == "range" or kb == ka == "fixed" or (b is not None and a is not None):
            if a is None and b is not None:
                return "loosened"
            if a is not None and b is not None and a != b:
                return "loosened" if (a > b) == higher else "tightened"
    if kb == ka == "allowlist":
        vb, va = set(map(str, before.get("values", []))), set(map(str, after.get("values", [])))
        if va > vb:
            return "loosened"
        if va < vb:
            return "tightened"
        return "changed"
    if kb == ka == "blocklist":
        vb, va = set(map(str, before.get("values", []))), set(map(str, after.get("values", [])))
        return "loosened" if va < vb else "tightened" if va > vb else "changed"
    if kb != ka and kb in _BREADTH and ka in _BREADTH and _BREADTH[kb] != _BREADTH[ka]:
        return "loosened" if _BREADTH[ka] > _BREADTH[kb] else "tightened"
    if before.get("hidden") and not after.get("hidden") and kb == ka:
        return "loosened"
    return "changed"


def diff_definitions(before: dict[str, Any], after: dict[str, Any]) -> tuple[RuleChange, ...]:
    out = []
    for attribute in sorted(set(before) | set(after)):
        b, a = before.get(attribute), after.get(attribute)
        if b == a:
            continue
        out.append(RuleChange(attribute, describe(b), describe(a), direction(attribute, b, a)))
    return tuple(out)


def policy_diff(env: str, address: str, name: str, before: Any, after: Any) -> PolicyDiff | None:
    """Rule-by-rule diff of two ``definition`` values (None when a side has no policy)."""
    try:
        changes = diff_definitions(parse_definition(before), parse_definition(after))
    except (ValueError, TypeError) as exc:
        return PolicyDiff(env, address, name, (), f"definition is not a JSON object of rules: {exc}")
    return PolicyDiff(env, address, name, changes) if changes else None
