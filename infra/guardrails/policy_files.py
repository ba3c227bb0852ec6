"""Governance as data: rule metadata, per-environment parameters and their floors, and waivers.

All files go through the one YAML kernel (:mod:`mlops_spec.config.kernel`): a duplicated key, an
unknown key, a wrong type or an unknown rule id is an error that names the file and the key path,
so a typo cannot silently relax a rule.

``floors`` in params.yaml are the loosest values any environment may hold (a cap no higher, a tag
list no shorter). Raising a cap past its floor is unusable policy (exit 2) that names the team
which must approve moving the floor (``guardrail_loosened`` in ``policies/ownership.yaml``); the
review shows any loosening of this data as a blocking policy change for that team.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from infra.guardrails.errors import GuardrailsError, problem
from infra.guardrails.model import RuleSpec, Severity, Waiver
from infra.guardrails.ownership import GUARDRAIL_LOOSENED, Ownership, load_ownership
from infra.guardrails.params import FLOOR_KINDS, EnvParams, Floors, looser_than_floor, normalize_privilege
from infra.guardrails.rules import REGISTRY
from mlops_spec.config.base import Spec
from mlops_spec.config.errors import ConfigError
from mlops_spec.config.kernel import came_from, deep_merge, display_path, read_yaml, validate

RULES_FILE = "guardrails/rules.yaml"
PARAMS_FILE = "guardrails/params.yaml"
WAIVERS_FILE = "guardrails/waivers.yaml"
_RULE_ID = re.compile(r"^DBX\d{3}$")

__all__ = ["EnvParams", "FloorError", "Floors", "Params", "Policies", "load_policies", "normalize_privilege"]


def _guarded(problems: ConfigError) -> GuardrailsError:
    return GuardrailsError([str(p) for p in problems.problems])


class _RuleEntry(Spec):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    severity: str
    title: str
    rationale: str
    fix: str
    envs: list[str] | None = None

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        Severity.parse(value)
        return value


class _RulesFile(Spec):
    rules: dict[str, _RuleEntry]


class _ParamsFile(Spec):
    defaults: dict[str, Any]
    envs: dict[str, dict[str, Any] | None]
    floors: Floors = Floors()


class _WaiverEntry(Spec):
    rule: str
    env: str
    resource: str = Field(min_length=1, description="Terraform address or construct path.")
    reason: str = Field(min_length=10)
    owner: str = Field(min_length=1, description="A team handle from policies/ownership.yaml `teams`.")
    expires: date


class _WaiversFile(Spec):
    waivers: list[_WaiverEntry] = Field(default_factory=list)


class FloorError(GuardrailsError):
    """An environment's parameter is looser than its floor. ``policies`` holds what loaded anyway
    (the review still compares it, and shows the violation as a blocking change)."""

    def __init__(self, problems: list[str], policies: Policies) -> None:
        super().__init__(problems)
        self.policies = policies


@dataclass(frozen=True)
class Params:
    """params.yaml: each environment's parameters, where each value was set, and the floors."""

    file: str
    by_env: dict[str, EnvParams]
    sources: dict[str, dict[str, str]]  # env -> parameter -> key path that set it
    floors: Floors


@dataclass(frozen=True)
class Policies:
    rules: dict[str, RuleSpec]
    params: dict[str, EnvParams]
    waivers: list[Waiver]
    waivers_file: str
    ownership: Ownership | None = None
    param_data: Params | None = None
    waiver_problems: tuple[str, ...] = ()  # reported by evaluate() with the run-dependent ones
    floor_problems: tuple[str, ...] = ()  # params looser than their floors (review: blocks)

    @property
    def envs(self) -> list[str]:
        return list(self.params)

    def setting(self, env: str, param: str) -> str:
        """Where a parameter's value for ``env`` is set: ``params.yaml: envs.prod.max_workers``."""
        if self.param_data is None:
            return f"{PARAMS_FILE}: {param}"
        where = self.param_data.sources.get(env, {}).get(param, f"defaults.{param}")
        return f"{self.param_data.file}: {where}"

    @property
    def security_owner(self) -> str:
        """The team(s) that approve loosening the gate (``guardrail_loosened`` in ownership.yaml)."""
        teams = self.ownership.approvers_for(GUARDRAIL_LOOSENED) if self.ownership else ()
        return ", ".join(teams) or "the security owner"


def _read(path: Path, *, optional: bool = False) -> dict[str, Any]:
    try:
        return read_yaml(path, optional=optional)
    except ConfigError as exc:
        raise _guarded(exc) from None


def load_params(path: Path) -> Params:
    file = display_path(path)
    try:
        raw = validate(_ParamsFile, _read(path), file)
    except ConfigError as exc:
        raise _guarded(exc) from None
    if not raw.envs:
        raise GuardrailsError(problem(file, "envs", "at least one environment is required"))
    params: dict[str, EnvParams] = {}
    sources: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for env, override in raw.envs.items():
        override = override or {}

        def where(
            loc: tuple[Any, ...], env: str = env, override: dict[str, Any] = override
        ) -> tuple[str, ...]:
            # Blame the override when it sets the key, else the defaults every env inherits.
            return ("envs", env) if came_from(override, loc[:1]) else ("defaults",)

        try:
            params[env] = validate(EnvParams, deep_merge(raw.defaults, override), file, where)
        except ConfigError as exc:
            problems += [str(p) for p in exc.problems if str(p) not in problems]
            continue
        sources[env] = {k: ".".join(where((k,))) + f".{k}" for k in EnvParams.model_fields}
        # A misspelt environment here would silently exempt that environment from the prod rules.
        for name in params[env].prod_workspace_envs:
            if name not in raw.envs:
                text = problem(
                    file,
                    sources[env]["prod_workspace_envs"],
                    "unknown environment",
                    name,
                    ", ".join(raw.envs),
                )
                problems += [text] if text not in problems else []
    if problems:
        raise GuardrailsError(problems)
    return Params(file, params, sources, raw.floors)


def floor_problems(params: Params, owner: str) -> list[str]:
    """Every environment value looser than its floor, naming who must approve moving the floor."""
    out: list[str] = []
    for key, kind in FLOOR_KINDS.items():
        floor = getattr(params.floors, key)
        if floor is None:
            continue
        for env, values in params.by_env.items():
            why = looser_than_floor(kind, getattr(values, key), floor)
            if why:
                text = problem(
                    params.file,
                    params.sources[env][key],
                    f"{why} (floors.{key}); a floor moves only with {owner}'s approval",
                )
                out += [text] if text not in out else []
    return out


def load_rules(path: Path, known_envs: list[str], implemented: set[str]) -> dict[str, RuleSpec]:
    file = display_path(path)
    try:
        raw = validate(_RulesFile, _read(path), file)
    except ConfigError as exc:
        raise _guarded(exc) from None
    problems = []
    rules = {}
    for rule_id, entry in raw.rules.items():
        if not _RULE_ID.match(rule_id):
            problems.append(problem(file, f"rules.{rule_id}", "rule ids look like DBX001", rule_id))
            continue
        if rule_id not in implemented:
            problems.append(problem(file, f"rules.{rule_id}", "no check implements this rule", rule_id))
        envs = entry.envs if entry.envs is not None else known_envs
        for env in envs:
            if env not in known_envs:
                problems.append(
                    problem(file, f"rules.{rule_id}.envs", "unknown environment", env, ", ".join(known_envs))
                )
        rules[rule_id] = RuleSpec(
            rule_id,
            entry.name,
            Severity.parse(entry.severity),
            entry.title.strip(),
            entry.rationale.strip(),
            entry.fix.strip(),
            tuple(envs),
        )
    for missing in sorted(implemented - set(raw.rules)):
        problems.append(problem(file, f"rules.{missing}", "implemented rule has no entry (severity, fix)"))
    if problems:
        raise GuardrailsError(problems)
    return rules


def load_waivers(
    path: Path, rules: dict[str, RuleSpec], known_envs: list[str], teams: dict[str, str]
) -> tuple[list[Waiver], list[str]]:
    """Waivers, and what is wrong with them that needs no stack: unknown rule, environment or owner.

    Expiry, lifetime and resources are checked by ``evaluate``, which reports all problems at once.
    """
    file = display_path(path)
    try:
        raw = validate(_WaiversFile, _read(path, optional=True), file)
    except ConfigError as exc:
        raise _guarded(exc) from None
    problems = []
    waivers = []
    for i, entry in enumerate(raw.waivers):
        if entry.rule not in rules:
            problems.append(
                problem(file, f"waivers[{i}].rule", "unknown rule", entry.rule, "ids in rules.yaml")
            )
        if entry.env not in known_envs:
            problems.append(
                problem(file, f"waivers[{i}].env", "unknown environment", entry.env, ", ".join(known_envs))
            )
        if entry.owner not in teams:
            problems.append(
                problem(
                    file,
                    f"waivers[{i}].owner",
                    "not a team of policies/ownership.yaml",
                    entry.owner,
                    ", ".join(teams),
                )
            )
        waivers.append(
            Waiver(entry.rule, entry.env, entry.resource, entry.reason, entry.owner, entry.expires, i)
        )
    return waivers, problems


def load_policies(policies_dir: Path, *, enforce_floors: bool = True) -> Policies:
    """Everything the gate compares against. Raises GuardrailsError (FloorError for floors)."""
    try:
        ownership = load_ownership(policies_dir)
    except ConfigError as exc:
        raise _guarded(exc) from None
    params = load_params(policies_dir / PARAMS_FILE)
    envs = list(params.by_env)
    rules = load_rules(policies_dir / RULES_FILE, envs, set(REGISTRY))
    waivers_path = policies_dir / WAIVERS_FILE
    waivers, waiver_problems = load_waivers(waivers_path, rules, envs, ownership.teams)
    policies = Policies(
        rules,
        params.by_env,
        waivers,
        display_path(waivers_path),
        ownership,
        params,
        tuple(waiver_problems),
    )
    floors = floor_problems(params, policies.security_owner)
    if floors:
        policies = replace(policies, floor_problems=tuple(floors))
        if enforce_floors:
            raise FloorError(floors, policies)
    return policies
