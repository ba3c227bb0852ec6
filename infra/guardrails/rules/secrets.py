"""No plaintext secrets anywhere Databricks takes a value: conf, environment, parameters, libraries,
policies, serving endpoints, connections, outputs and Terraform state.

Two checks over every resource:

* every string is run through the one credential detector (:mod:`mlops_spec.config.secrets`: token
  formats, URLs with user info, token query parameters or webhook paths) plus the extra patterns in
  params.yaml, wherever it sits, so a new attribute cannot hide a credential;
* in the name->value maps where Databricks passes settings on (``spark_conf``, ``spark_env_vars``,
  serving ``environment_vars``, task parameters, connection options, a policy's ``spark_conf.*`` and
  ``spark_env_vars.*`` entries), a secret-named key (``fs.azure.account.key.*``, ``*_TOKEN``) must hold
  a ``{{secrets/<scope>/<key>}}`` reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from infra.guardrails.params import EnvParams
from infra.guardrails.rules import Violation, rule
from infra.guardrails.stack import StackIndex, as_number, blocks, item_label, listing
from infra.tfdoc import Resource, references
from mlops_spec.config.secrets import SECRET_REFERENCE, credential, credential_hint

# Attributes whose value is a credential once created; referencing them copies it into plain view.
SECRET_ATTRS = frozenset(
    {"token_value", "string_value", "client_secret", "secret", "password", "private_key"}
)
# Maps whose keys name what their values are (a secret-named key needs a secret reference).
NAMED_MAPS = frozenset(
    {
        "spark_conf",
        "spark_env_vars",
        "environment_vars",
        "named_parameters",
        "base_parameters",
        "job_parameters",
        "notebook_params",
        "python_named_params",
        "parameters",
        "options",
    }
)
# Attributes that hold a credential by name wherever they appear (git credentials, connections, ...).
CREDENTIAL_ATTRS = frozenset(
    {
        "personal_access_token",
        "password",
        "client_secret",
        "private_key",
        "access_key",
        "secret_key",
        "api_key",
    }
)
ARGUMENT_LISTS = frozenset({"parameters", "python_params", "jar_params", "spark_submit_params"})
POLICY_MAP_PREFIXES = ("spark_conf.", "spark_env_vars.")
SKIPPED = frozenset({"//", "depends_on", "provider", "lifecycle"})
_SECRET_ATTR_HINT = re.compile("|".join(sorted(SECRET_ATTRS)))
_SETTING = re.compile(r"[A-Za-z_][\w.-]*=.*")
_NUMBER_OR_FLAG = re.compile(r"-?\d+(\.\d+)?|true|false", re.IGNORECASE)


@lru_cache(maxsize=32)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def plaintext(key: str, value: Any, params: EnvParams, named: bool = True) -> str | None:
    """Why ``key=value`` leaks a secret, or None. ``named``: the key names the value (a conf map)."""
    if not isinstance(value, str) or not value:
        return None
    if "{{secrets/" in value and SECRET_REFERENCE.search(value):
        return None
    if "${" in value:
        # A reference is plaintext only when it copies a credential; names and ids are fine.
        if not _SECRET_ATTR_HINT.search(value):
            return None
        copied = any(set(ref.attribute) & SECRET_ATTRS for ref in references(value))
        return "copies a credential attribute" if copied else None
    kind = credential(value)
    if kind:
        return f"holds {kind}"
    if params.secret_value_patterns and any(_compiled(p).search(value) for p in params.secret_value_patterns):
        return "looks like a credential (secret_value_patterns)"
    if key.endswith("_plaintext"):
        return "is a plaintext credential attribute; use its {{secrets/scope/key}} variant"
    if not named or _NUMBER_OR_FLAG.fullmatch(value):
        return None  # TTLs, counts and flags under secret-sounding names
    if key and _compiled(params.secret_key_pattern).search(key):
        return "is secret-named but not a {{secrets/scope/key}} reference"
    return None


def _arguments(where: str, args: list[Any], params: EnvParams) -> Iterator[str]:
    """``["--token", "x"]``, ``["--token=x"]`` and ``["--conf", "spark.x.token=y"]`` argument lists."""
    previous = ""
    for i, arg in enumerate(args):
        text = str(arg)
        key, _, value = text.partition("=") if text.startswith("-") and "=" in text else (previous, "", text)
        if not text.startswith("-") and _SETTING.fullmatch(text):
            key, _, value = text.partition("=")  # spark-submit --conf name=value
        why = plaintext(key.lstrip("-"), value, params, named=bool(key))
        if why:
            yield f"{where}[{i}] {why}"
        previous = text if text.startswith("-") and "=" not in text else ""


def _path(parent: tuple[Any, ...] | None) -> str:
    """The attribute path of a walk entry, rebuilt from its parent chain only when reported."""
    parts: list[str] = []
    while parent is not None:
        parent, label = parent
        parts.append(label)
    return "".join(p if p.startswith("[") else f".{p}" for p in reversed(parts)).lstrip(".")


def _values(res: Resource, params: EnvParams) -> Iterator[str]:
    """Every leak in a resource's own values, with the attribute path it sits at."""
    extra = bool(params.secret_value_patterns)
    # (node, its path as a parent chain, the key naming it, inside a name->value map). Iterative and
    # with a cheap look first: this walks every string of every resource.
    pending: list[tuple[Any, Any, str, bool]] = [
        (v, (None, str(k)), str(k), False) for k, v in res.values.items() if v and k not in SKIPPED
    ]
    while pending:
        node, path, key, named = pending.pop()
        if isinstance(node, str):
            named = named or key in CREDENTIAL_ATTRS
            if named or extra or "${" in node or credential_hint(node) or key.endswith("_plaintext"):
                why = plaintext(key, node, params, named)
                if why:
                    yield f"{_path(path)} {why}"
        elif isinstance(node, dict):
            inner = named or key in NAMED_MAPS
            pending += [(v, (path, str(k)), str(k), inner) for k, v in node.items() if v]
        elif isinstance(node, list):
            if key in ARGUMENT_LISTS and all(isinstance(a, str) for a in node):
                yield from _arguments(_path(path), node, params)
                continue
            pending += [(v, (path, f"[{item_label(v, i)}]"), key, named) for i, v in enumerate(node) if v]


def _policy_entries(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    """A policy that fixes (or defaults) a conf or env var hands that value to every cluster."""
    for policy in index.policies.values():
        for attribute, entry in (policy.definition or {}).items():
            if not isinstance(entry, dict):
                continue
            values = [entry.get("value"), entry.get("defaultValue"), *listing(entry.get("values"))]
            key = next(
                (attribute.removeprefix(p) for p in POLICY_MAP_PREFIXES if attribute.startswith(p)), ""
            )
            for value in values:
                why = plaintext(key or attribute, value, params, named=bool(key))
                if why:
                    yield Violation(policy.resource, f"policy '{policy.name}' {attribute} {why}")
                    break


@rule("DBX003", "secret_key_pattern", "secret_value_patterns")
def no_plaintext_secrets(index: StackIndex, params: EnvParams) -> Iterator[Violation]:
    for res in index.all:
        if res.mode == "managed":
            for reason in _values(res, params):
                yield Violation(res, reason)
    for job in index.of("databricks_job"):
        for param in blocks(job.values, "parameter"):
            why = plaintext(str(param.get("name", "")), param.get("default"), params)
            if why:
                yield Violation(job, f"job parameter {param.get('name')!r} {why}")
    for secret in index.of("databricks_secret"):
        if secret.values.get("string_value") not in (None, ""):
            yield Violation(
                secret, "string_value puts the secret in code and Terraform state; write it out of band"
            )
    yield from _policy_entries(index, params)
    for output in index.outputs:
        why = plaintext(output.name, output.values.get("value"), params)
        if why:
            yield Violation(output, f"output {output.name!r} {why}")


@rule("DBX106", "max_token_lifetime_days")
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
