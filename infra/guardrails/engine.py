"""Evaluate every rule against every environment's resources, then apply waivers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from infra.guardrails.errors import GuardrailsError, problem
from infra.guardrails.model import Finding, Report, Resource
from infra.guardrails.policy_files import Policies
from infra.guardrails.rules import REGISTRY, RULE_PARAMS, Violation
from infra.guardrails.settings import setting_of
from infra.guardrails.stack import StackIndex


def _names(res: Resource) -> set[str]:
    names = {res.address}
    if res.construct_path:
        names |= {res.construct_path, res.construct_path.removesuffix("/Resource")}
    return names


def evaluate(resources: list[Resource], policies: Policies, today: date | None = None) -> Report:
    """Run the rules of each resource's environment. Raises GuardrailsError for unusable input."""
    by_env: dict[str, list[Resource]] = defaultdict(list)
    for res in resources:
        by_env[res.env].append(res)
    unknown = sorted(set(by_env) - set(policies.params))
    if unknown:
        raise GuardrailsError(
            f"environment {unknown[0]!r} (from {by_env[unknown[0]][0].source}) has no parameters in "
            f"policies/guardrails/params.yaml; allowed: {', '.join(policies.params)}"
        )
    findings: list[Finding] = []
    notes: list[str] = []
    indexes = {env: StackIndex(env, by_env[env]) for env in sorted(by_env)}
    for index in indexes.values():
        index.peers = indexes  # cross-stack rules (DBX021) read the other stacks of this run
    for env, index in indexes.items():
        findings.extend(_run_env(index, policies))
        if index.from_plan:
            notes += [
                f"{env}: {PLAN_BLIND_SPOTS[r.id]}"
                for r in policies.rules.values()
                if r.id in PLAN_BLIND_SPOTS and env in r.envs and _has_types(index, PLAN_BLIND_TYPES[r.id])
            ]
    findings = _apply_waivers(findings, by_env, policies, today or date.today(), notes)
    findings.sort(key=lambda f: (-f.rule.severity, f.env, f.rule.id, f.address, f.message))
    sources = sorted({r.source for r in resources})
    rules = [policies.rules[r] for r in sorted(policies.rules)]
    managed = sum(r.mode == "managed" for r in resources)
    return Report(findings, rules, sorted(by_env), managed, sources, notes)


# What a rule cannot see in `terraform show -json` output (it carries no lifecycle or depends_on).
PLAN_BLIND_SPOTS = {
    "DBX019": "plan input carries no lifecycle settings; DBX019 checked planned deletions only",
    "DBX022": "plan input carries no depends_on; DBX022 checked metastore assignments only",
    "DBX023": "plan input carries no lifecycle settings; DBX023 checked planned deletions and force_destroy",
}
PLAN_BLIND_TYPES: dict[str, tuple[str, ...]] = {
    "DBX019": (),  # () = note it for every plan, as before
    "DBX022": ("databricks_mws_permission_assignment",),
    "DBX023": ("databricks_metastore", "databricks_mws_workspaces"),
}


def _has_types(index: StackIndex, types: tuple[str, ...]) -> bool:
    return not types or any(True for _ in index.of(*types))


def _run_env(index: StackIndex, policies: Policies) -> list[Finding]:
    default_source = index.all[0].source if index.all else ""
    params = policies.params[index.env]
    seen: set[tuple[str, str, str]] = set()
    out = []
    for rule_id in sorted(policies.rules):
        spec = policies.rules[rule_id]
        if index.env not in spec.envs:
            continue
        violation: Violation
        for violation in REGISTRY[rule_id](index, params):
            message = _without_address(index.readable(violation.message), violation.where)
            key = (rule_id, violation.where, message)
            if key in seen:
                continue
            seen.add(key)
            res = violation.resource
            names = RULE_PARAMS[rule_id] if violation.params is None else violation.params
            out.append(
                Finding(
                    spec,
                    index.env,
                    violation.where,
                    message,
                    res.source if res else default_source,
                    res.construct_path if res else None,
                    held_against=tuple(_held_against(policies, index.env, n, params) for n in names),
                    setting=setting_of(res.construct_path) if res else None,
                )
            )
    return out


def _without_address(message: str, address: str) -> str:
    """Findings carry their address: a message that starts with it (``<job> task "x": ...``) drops it."""
    if message.startswith(address):
        rest = message[len(address) :].lstrip(" :")
        return rest or message
    return message


def _held_against(policies: Policies, env: str, name: str, params: Any) -> str:
    """``max_workers = 32 (policies/guardrails/params.yaml: envs.prod.max_workers)``."""
    value = getattr(params, name)
    shown = value.model_dump() if hasattr(value, "model_dump") else value
    return f"{name} = {shown!r} ({policies.setting(env, name)})"


def _waiver_problems(
    policies: Policies, by_env: dict[str, list[Resource]], findings: list[Finding], today: date
) -> list[str]:
    """Everything wrong with the waivers, all at once: unknown rule, env or owner (found at load),
    an expiry past the lifetime limit, an expired waiver, a resource the stack does not have."""
    file = policies.waivers_file
    problems = list(policies.waiver_problems)
    known: dict[str, set[str]] = {env: set().union(*(_names(r) for r in res)) for env, res in by_env.items()}
    for f in findings:
        known[f.env].add(f.address)
    for waiver in policies.waivers:
        where = f"waivers[{waiver.index}]"
        params = policies.params.get(waiver.env)
        if params is not None and waiver.expires > today + timedelta(days=params.max_waiver_days):
            problems.append(
                problem(
                    file,
                    f"{where}.expires",
                    f"waiver for {waiver.rule} on {waiver.resource} expires more than "
                    f"{params.max_waiver_days} days ahead "
                    f"({policies.setting(waiver.env, 'max_waiver_days')})",
                    waiver.expires.isoformat(),
                    f"until {(today + timedelta(days=params.max_waiver_days)).isoformat()}",
                )
            )
        if waiver.env not in by_env:
            continue  # that stack is not part of this run: its expiry and resource are not judged
        if waiver.expires < today:
            problems.append(
                problem(
                    file,
                    f"{where}.expires",
                    f"waiver for {waiver.rule} on {waiver.resource} expired "
                    f"(today is {today.isoformat()}); fix the finding or renew with a reason",
                    waiver.expires.isoformat(),
                )
            )
        if waiver.resource not in known[waiver.env]:
            problems.append(
                problem(
                    file,
                    f"{where}.resource",
                    f"no such resource in the {waiver.env} stack",
                    waiver.resource,
                    "a Terraform address or construct path of that stack",
                )
            )
    return problems


def _apply_waivers(
    findings: list[Finding],
    by_env: dict[str, list[Resource]],
    policies: Policies,
    today: date,
    notes: list[str],
) -> list[Finding]:
    problems = _waiver_problems(policies, by_env, findings, today)
    if problems:
        raise GuardrailsError(problems)
    active = [w for w in policies.waivers if w.env in by_env]
    used: set[int] = set()
    out = []
    for finding in findings:
        names = {finding.address} | (
            {finding.construct_path, finding.construct_path.removesuffix("/Resource")}
            if finding.construct_path
            else set()
        )
        waiver = next(
            (w for w in active if w.rule == finding.rule.id and w.env == finding.env and w.resource in names),
            None,
        )
        if waiver:
            used.add(waiver.index)
            finding = replace(finding, waiver=waiver)
        out.append(finding)
    for waiver in active:
        if waiver.index not in used:
            notes.append(
                f"{policies.waivers_file}: waivers[{waiver.index}] ({waiver.rule} on {waiver.resource}) "
                "matches no finding; remove it"
            )
    return out
