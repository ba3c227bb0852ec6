"""Governance as data: rule metadata, per-environment parameters and waivers from ``policies/``.

All three files are validated strictly: an unknown key, a wrong type or an unknown rule id is an
error that names the file and the key path, so a typo cannot silently relax a rule.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from infra.guardrails.errors import GuardrailsError, problem
from infra.guardrails.model import RuleSpec, Severity, Waiver

RULES_FILE = "guardrails/rules.yaml"
PARAMS_FILE = "guardrails/params.yaml"
WAIVERS_FILE = "guardrails/waivers.yaml"
_RULE_ID = re.compile(r"^DBX\d{3}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeployTask(_Strict):
    """How a job task that deploys a model to a serving endpoint is recognised and read."""

    entry_points: list[str] = Field(description="python_wheel_task entry points that deploy a model.")
    endpoint_param: str | None = Field(
        description="Named parameter holding the endpoint name (or a reference)."
    )
    endpoint_tag: str | None = Field(
        description="Endpoint tag whose value equals the task's model parameter: links the two when the task "
        "does not name the endpoint."
    )
    model_param: str = Field(
        description="Named parameter holding the model: catalog.schema.model or a registered model's name."
    )
    scale_to_zero_param: str = Field(description="Named parameter holding scale-to-zero (true/false).")


class EnvParams(_Strict):
    """Everything the rules compare against, for one environment (defaults merged with overrides)."""

    required_tags: list[str]
    env_tag: str | None = Field(description="Tag that must equal the environment name; null = not checked.")
    platform_group: str
    secret_read_groups: list[str] = Field(
        description="Groups that may hold READ on secret scopes (besides SPs)."
    )
    data_scientists_group: str
    admin_groups: list[str] = Field(description="Groups that may hold privileged metastore/storage grants.")
    allowed_access_modes: list[str]
    cpu_node_types: list[str]
    gpu_node_types: list[str]
    runtimes: list[str] = Field(description="Explicitly allowed spark_version values.")
    runtime_pattern: str | None = Field(description="Regex for further allowed spark_version values.")
    lts_runtimes: list[str] = Field(description="LTS major.minor versions (e.g. 15.4) or auto:latest-lts*.")
    gpu_policy_name_pattern: str
    max_autotermination_minutes: int = Field(gt=0)
    max_dbus_per_hour: float = Field(gt=0)
    max_workers: int = Field(gt=0)
    max_token_lifetime_days: int = Field(gt=0)
    workspace_settings: dict[str, bool] = Field(description="SRA custom_config keys and required values.")
    job_max_timeout_seconds: int = Field(gt=0)
    job_max_concurrent_runs: int = Field(gt=0)
    require_scale_to_zero: bool
    deploy_task: DeployTask
    protected_types: list[str]
    secret_key_pattern: str = Field(description="Regex of conf/env/parameter names that hold secrets.")
    secret_value_patterns: list[str] = Field(description="Regexes of well-known credential formats.")
    read_privileges: list[str] = Field(description="UC privileges data scientists may hold in prod.")
    privileged_privileges: list[str] = Field(description="UC privileges reserved for admin_groups.")
    max_sql_auto_stop_mins: int = Field(gt=0)
    prod_workspace_envs: list[str] = Field(
        description="Environments whose workspaces must be private (or IP-restricted) and undeletable."
    )

    @field_validator("runtime_pattern", "gpu_policy_name_pattern", "secret_key_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @field_validator("secret_value_patterns")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            re.compile(pattern)
        return value

    @field_validator("read_privileges", "privileged_privileges")
    @classmethod
    def _privileges(cls, value: list[str]) -> list[str]:
        return [normalize_privilege(p) for p in value]


def normalize_privilege(privilege: str) -> str:
    """UC privileges are spelled ``ALL PRIVILEGES`` or ``ALL_PRIVILEGES``; compare one way."""
    return privilege.strip().upper().replace(" ", "_")


class _RuleEntry(_Strict):
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


class _RulesFile(_Strict):
    rules: dict[str, _RuleEntry]


class _ParamsFile(_Strict):
    defaults: dict[str, Any]
    envs: dict[str, dict[str, Any]]


class _WaiverEntry(_Strict):
    rule: str
    env: str
    resource: str = Field(min_length=1, description="Terraform address or construct path.")
    reason: str = Field(min_length=10)
    owner: str = Field(min_length=1)
    expires: date


class _WaiversFile(_Strict):
    waivers: list[_WaiverEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Policies:
    rules: dict[str, RuleSpec]
    params: dict[str, EnvParams]
    waivers: list[Waiver]
    waivers_file: str

    @property
    def envs(self) -> list[str]:
        return list(self.params)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GuardrailsError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise GuardrailsError(f"{path}: {where}invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def _format_path(parts: tuple[Any, ...]) -> str:
    """``("waivers", 0, "owner")`` -> ``waivers[0].owner``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "":
            out += f".{part}" if out else str(part)
    return out


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model at ``loc``; dict keys and list indexes keep the current model."""
    current: type[BaseModel] = model
    for part in loc:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            continue
        inner = [field.annotation, *typing.get_args(field.annotation)]
        inner += [a for t in inner for a in typing.get_args(t)]
        current = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), current)
    return sorted(current.model_fields)


def _validate(
    model: type[BaseModel], data: Any, file: str, prefix: str | Callable[[tuple[Any, ...]], str] = ""
) -> Any:
    """Validate ``data``; ``prefix`` (or a function of the error location) roots the key paths."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            root = prefix(err["loc"]) if callable(prefix) else prefix
            path = _format_path((root, *err["loc"]))
            value = err.get("input")
            shown = None if isinstance(value, dict | list) or err["type"] == "missing" else value
            if err["type"] == "extra_forbidden":
                fields = _fields_at(model, err["loc"][:-1])
                problems.append(
                    problem(file, path, "unknown key", None, ", ".join(fields) if fields else None)
                )
            else:
                problems.append(problem(file, path, err["msg"].removeprefix("Value error, "), shown))
        raise GuardrailsError(problems) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Per-env values replace defaults; nested mappings (e.g. workspace_settings) merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_params(path: Path) -> dict[str, EnvParams]:
    file = str(path)
    raw = _validate(_ParamsFile, _read_yaml(path), file)
    if not raw.envs:
        raise GuardrailsError(problem(file, "envs", "at least one environment is required"))
    unknown = sorted(set(raw.defaults) - set(EnvParams.model_fields))
    if unknown:
        raise GuardrailsError(
            problem(
                file, f"defaults.{unknown[0]}", "unknown key", None, ", ".join(sorted(EnvParams.model_fields))
            )
        )
    params = {}
    problems: list[str] = []
    for env, override in raw.envs.items():
        override = override or {}

        def where(loc: tuple[Any, ...], env: str = env, override: dict[str, Any] = override) -> str:
            # Blame the override when it sets the key, else the defaults every env inherits.
            return f"envs.{env}" if loc and loc[0] in override else "defaults"

        try:
            params[env] = _validate(EnvParams, _merge(raw.defaults, override), file, where)
        except GuardrailsError as exc:
            problems += [p for p in exc.problems if p not in problems]
            continue
        # A misspelt environment here would silently exempt that environment's workspace.
        for name in params[env].prod_workspace_envs:
            if name not in raw.envs:
                text = problem(
                    file,
                    f"{where(('prod_workspace_envs',))}.prod_workspace_envs",
                    "unknown environment",
                    name,
                    ", ".join(raw.envs),
                )
                problems += [text] if text not in problems else []
    if problems:
        raise GuardrailsError(problems)
    return params


def load_rules(path: Path, known_envs: list[str], implemented: set[str]) -> dict[str, RuleSpec]:
    file = str(path)
    raw = _validate(_RulesFile, _read_yaml(path), file)
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


def load_waivers(path: Path, rules: dict[str, RuleSpec], known_envs: list[str]) -> list[Waiver]:
    """Waivers, checked for unknown rules and environments here; expiry and resources at evaluation."""
    file = str(path)
    if not path.exists():
        return []
    raw = _validate(_WaiversFile, _read_yaml(path) or {}, file)
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
        waivers.append(
            Waiver(entry.rule, entry.env, entry.resource, entry.reason, entry.owner, entry.expires, i)
        )
    if problems:
        raise GuardrailsError(problems)
    return waivers


def load_policies(policies_dir: Path) -> Policies:
    from infra.guardrails.rules import REGISTRY

    params = load_params(policies_dir / PARAMS_FILE)
    rules = load_rules(policies_dir / RULES_FILE, list(params), set(REGISTRY))
    waivers_path = policies_dir / WAIVERS_FILE
    return Policies(rules, params, load_waivers(waivers_path, rules, list(params)), str(waivers_path))
