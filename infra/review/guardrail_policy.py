"""The gate's own data compared base -> head: params, floors, rule metadata and waivers.

Raising a cap, growing an allowlist, dropping a required tag, lowering a severity, narrowing a rule
to fewer environments or adding a waiver loosens the gate. Each such change is listed with its
direction; a loosening is a ``guardrail_loosened`` change (its approvers in ``ownership.yaml`` are
the security owner), and one that goes past the base's floors, or moves a floor, blocks the review.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from infra.guardrails import Policies
from infra.guardrails.params import FLOOR_KINDS, EnvParams, looser_than_floor
from infra.guardrails.policy_files import PARAMS_FILE, RULES_FILE, WAIVERS_FILE

LOOSENED, TIGHTENED, CHANGED = "loosened", "tightened", "changed"


@dataclass(frozen=True, slots=True)
class GuardrailChange:
    file: str  # policies/guardrails/params.yaml
    key: str  # envs.prod.max_dbus_per_hour, floors.max_workers, rules.DBX003.severity, waivers[0]
    envs: tuple[str, ...]  # environments whose gate it changes
    before: str
    after: str
    direction: str  # loosened | tightened | changed
    below_floor: bool = False  # looser than the base's floor, or a floor moved looser: blocks

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return str(value)


def direction(kind: str | None, before: Any, after: Any) -> str:
    """Which way a value moved; ``kind`` is how its floor bounds it (None: not orderable)."""
    if kind is None:
        if isinstance(before, bool) and isinstance(after, bool):
            return LOOSENED if before and not after else TIGHTENED  # switches on are checks on
        return LOOSENED if after is None and before is not None else CHANGED
    if after is None:
        return LOOSENED
    if before is None:
        return TIGHTENED
    if kind == "at_most":
        return LOOSENED if after > before else TIGHTENED
    if kind == "at_least":
        return LOOSENED if after < before else TIGHTENED
    if kind == "contains":
        return LOOSENED if set(before) - set(after) else TIGHTENED
    if kind == "within":
        return LOOSENED if set(after) - set(before) else TIGHTENED
    if kind == "includes":  # a mapping of required settings: a dropped or changed one loosens
        return LOOSENED if any(after.get(k) != v for k, v in before.items()) else TIGHTENED
    return CHANGED


def _params(base: Policies, head: Policies) -> list[GuardrailChange]:
    file = head.param_data.file if head.param_data else PARAMS_FILE
    floors = base.param_data.floors if base.param_data else None
    grouped: dict[tuple[str, str, str, str, bool], list[str]] = {}
    for env in sorted(set(base.params) | set(head.params)):
        b, a = base.params.get(env), head.params.get(env)
        for name in EnvParams.model_fields:
            vb, va = getattr(b, name, None), getattr(a, name, None)
            if vb == va:
                continue
            kind = FLOOR_KINDS.get(name)
            way = direction(kind, vb, va)
            floor = getattr(floors, name, None) if floors is not None else None
            below = bool(kind and va is not None and floor is not None and looser_than_floor(kind, va, floor))
            key = head.setting(env, name).split(": ", 1)[-1] if a is not None else f"envs.{env}"
            grouped.setdefault((key, _show(vb), _show(va), way, below), []).append(env)
    return [
        GuardrailChange(file, key, tuple(envs), before, after, way, below)
        for (key, before, after, way, below), envs in grouped.items()
    ]


def _floors(base: Policies, head: Policies) -> list[GuardrailChange]:
    if base.param_data is None or head.param_data is None:
        return []
    envs = tuple(head.params)
    out = []
    for name, kind in FLOOR_KINDS.items():
        vb, va = getattr(base.param_data.floors, name), getattr(head.param_data.floors, name)
        if vb != va:
            way = direction(kind, vb, va)
            out.append(
                GuardrailChange(
                    head.param_data.file, f"floors.{name}", envs, _show(vb), _show(va), way, way == LOOSENED
                )
            )
    return out


def _rules(base: Policies, head: Policies) -> list[GuardrailChange]:
    out = []
    for rule_id in sorted(set(base.rules) | set(head.rules)):
        b, a = base.rules.get(rule_id), head.rules.get(rule_id)
        if b is None or a is None:  # a rule added (tighter) or dropped (looser)
            rule = a or b
            assert rule is not None
            way = LOOSENED if a is None else TIGHTENED
            shown = (b.severity.name if b else "(none)", a.severity.name if a else "(removed)")
            out.append(GuardrailChange(RULES_FILE, f"rules.{rule_id}", rule.envs, *shown, way))
            continue
        if a.severity != b.severity:
            way = LOOSENED if a.severity < b.severity else TIGHTENED
            key = f"rules.{rule_id}.severity"
            out.append(GuardrailChange(RULES_FILE, key, a.envs, b.severity.name, a.severity.name, way))
        if set(a.envs) != set(b.envs):
            dropped = tuple(e for e in b.envs if e not in a.envs)
            way = LOOSENED if dropped else TIGHTENED
            envs = dropped or tuple(e for e in a.envs if e not in b.envs)
            key = f"rules.{rule_id}.envs"
            out.append(GuardrailChange(RULES_FILE, key, envs, ", ".join(b.envs), ", ".join(a.envs), way))
    return out


def _waivers(base: Policies, head: Policies) -> list[GuardrailChange]:
    def by_key(policies: Policies) -> dict[tuple[str, str, str], Any]:
        return {(w.rule, w.env, w.resource): w for w in policies.waivers}

    before, after = by_key(base), by_key(head)
    out = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b is not None and a is not None and b.expires >= a.expires:
            way = TIGHTENED if b.expires > a.expires else None
        else:
            way = LOOSENED if a is not None else TIGHTENED
        if way is None:
            continue
        label = f"waiver {key[0]} on {key[2]}"
        shown = (
            f"until {b.expires} ({b.owner})" if b else "(none)",
            f"until {a.expires} ({a.owner}): {a.reason}" if a else "(removed)",
        )
        out.append(GuardrailChange(WAIVERS_FILE, label, (key[1],), *shown, way))
    return out


def guardrail_policy_changes(base: Policies | None, head: Policies | None) -> list[GuardrailChange]:
    """Every change to the gate's data between base and head (empty when either is missing)."""
    if base is None or head is None:
        return []
    changes = _params(base, head) + _floors(base, head) + _rules(base, head) + _waivers(base, head)
    return sorted(changes, key=lambda c: (not c.below_floor, c.direction != LOOSENED, c.file, c.key))
