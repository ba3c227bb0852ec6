"""No plaintext secrets in cluster conf, environment, job parameters, outputs or state."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infra.guardrails.policy_files import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, as_number, block, blocks
from infra.tfdoc import Resource

SECRET_REF = re.compile(r"\{\{secrets/[^/{}]+/[^/{}]+\}\}")
# Attributes whose value is a credential once created; referencing them copies it into plain view.
SECRET_ATTRS = re.compile(r"\.(token_value|string_value|client_secret|secret|password|private_key)\b")
TASK_KINDS = ("python_wheel_task", "notebook_task", "spark_python_task", "spark_jar_task", "sql_task")


def plaintext(key: str, value: Any, params: EnvParams) -> str | None:
    """Why ``key=value`` leaks a secret, or None. Secret references are the only way in."""
    if not isinstance(value, str) or not value or SECRET_REF.search(value):
        return None
    if "${" in value:
        # A reference is plaintext only when it copies a credential; names and ids are fine.
        return "copies a credential attribute" if SECRET_ATTRS.search(value) else None
    if re.fullmatch(r"-?\d+(\.\d+)?|true|false", value, re.IGNORECASE):
        return None  # TTLs, counts and flags under secret-sounding names
    for pattern in params.secret_value_patterns:
        if re.search(pattern, value):
            return "looks like a credential"
    if key and re.search(params.secret_key_pattern, key, re.IGNORECASE):
        return "is secret-named but not a {{secrets/scope/key}} reference"
    return None


def _mapping(where: str, mapping: Any, params: EnvParams) -> Iterator[str]:
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            why = plaintext(str(key), value, params)
            if why:
                yield f"{where}.{key} {why}"


def _arguments(where: str, args: Any, params: EnvParams) -> Iterator[str]:
    """``["--token", "x"]`` and ``["--token=x"]`` style parameter lists."""
    if not isinstance(args, list):
        return
    previous = ""
    for i, arg in enumerate(args):
        text = str(arg)
        key, _, value = text.partition("=") if text.startswith("-") and "=" in text else (previous, "", text)
        why = plaintext(key.lstrip("-"), value, params)
        if why:
            yield f"{where}[{i}] {why}"
        previous = text if text.startswith("-") and "=" not in text else ""


def _job_findings(job: Resource, params: EnvParams) -> Iterator[str]:
    for param in blocks(job.values, "parameter"):
        why = plaintext(str(param.get("name", "")), param.get("default"), params)
        if why:
            yield f"job parameter {param.get('name')!r} {why}"
    for task in blocks(job.values, "task"):
        key = task.get("task_key", "?")
        for kind in (k for k in TASK_KINDS if k in task):
            spec = block(task, kind)
            where = f'task "{key}" {kind}'
            yield from _mapping(f"{where}.named_parameters", spec.get("named_parameters"), params)
            yield from _mapping(f"{where}.base_parameters", spec.get("base_parameters"), params)
            yield from _mapping(f"{where}.parameters", spec.get("parameters"), params)
            yield from _arguments(f"{where}.parameters", spec.get("parameters"), params)


@rule("DBX003")
def no_plaintext_secrets(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for cluster in index.clusters():
        for field in ("spark_conf", "spark_env_vars"):
            for why in _mapping(field, cluster.values.get(field), params):
                yield Violation(cluster.owner, f"{cluster.where}: {why}")
    for job in index.of("databricks_job"):
        for why in _job_findings(job, params):
            yield Violation(job, why)
    for secret in index.of("databricks_secret"):
        if secret.values.get("string_value") not in (None, ""):
            yield Violation(
                secret, "string_value puts the secret in code and Terraform state; write it out of band"
            )
    for output in index.outputs:
        why = plaintext(output.name, output.values.get("value"), params)
        if why:
            yield Violation(output, f"output {output.name!r} {why}")


@rule("DBX106")
def token_lifetime(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    cap = params.max_token_lifetime_days * 86400
    for token in index.of("databricks_token", "databricks_obo_token"):
        seconds = as_number(token.values.get("lifetime_seconds"))
        if seconds is None or not 0 < seconds <= cap:
            yield Violation(
                token,
                f"lifetime_seconds {token.values.get('lifetime_seconds')!r}; allowed 1..{cap} "
                f"({params.max_token_lifetime_days} days); the token value also lands in Terraform state",
            )
