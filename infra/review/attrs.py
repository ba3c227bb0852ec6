"""Attribute-level diffs of one resource, with sensitive values masked.

Nested blocks flatten to readable paths: lists of blocks are keyed by their identity
(``task[train].timeout_seconds``, ``access_control[data-scientists].permission_level``) so that
inserting one task does not show every later task as changed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from infra.review.model import AttrDiff
from infra.review.resources import Side
from infra.tfdoc import block_label

MASK = "(sensitive)"
SENSITIVE_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|api[_.-]?key|access[_.-]?key|credential|private[_.-]?key|"
    r"string_value|bytes_value|content_base64|sas)"
)
SECRET_VALUE = re.compile(
    r"\bdapi[0-9a-f]{32}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bxox[baprs]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
# Secret references such as {{secrets/scope/key}} are pointers, not values: shown as they are.
_SECRET_REF = re.compile(r"^\{\{secrets/[^}]+\}\}$")
_ID_KEYS = (
    "task_key",
    "job_cluster_key",
    "principal",
    "group_name",
    "user_name",
    "service_principal_name",
    "key",
    "name",
    "label",
)
# Attributes shown elsewhere in the report (policy rules get their own section).
SKIP = {"databricks_cluster_policy": {"definition"}}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k in sorted(value):
            out.update(flatten(value[k], f"{prefix}.{k}" if prefix else k))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{block_label(item, i, _ID_KEYS)}]"))
        return out
    return {prefix: value}


def _sensitive_keys(marks: Any) -> set[str]:
    """Top-level attributes a plan marks sensitive anywhere inside (masked as a whole)."""
    if not isinstance(marks, dict):
        return set()
    return {k for k, v in marks.items() if v is True or (v and "true" in json.dumps(v))}


def mask(path: str, value: Any, sensitive_top: set[str]) -> Any:
    if value is None:
        return None
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    leaf = re.split(r"[.\[\]]", path.rstrip("]"))[-1]
    if top in sensitive_top or SENSITIVE_KEY.search(leaf):
        return value if isinstance(value, str) and _SECRET_REF.match(value) else MASK
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return MASK
    return value


def attr_diffs(
    rtype: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    base: Side,
    head: Side,
    address: str,
) -> tuple[AttrDiff, ...]:
    skip = SKIP.get(rtype, set())
    b = flatten({k: v for k, v in (before or {}).items() if k not in skip})
    a = flatten({k: v for k, v in (after or {}).items() if k not in skip})
    marks = base.sensitive.get(address, {}) or head.sensitive.get(address, {})
    sensitive_top = _sensitive_keys(marks.get("before")) | _sensitive_keys(marks.get("after"))
    out = []
    for path in sorted(set(b) | set(a)):
        vb, va = base.label(b.get(path)), head.label(a.get(path))
        if vb == va:
            continue
        out.append(AttrDiff(path, mask(path, vb, sensitive_top), mask(path, va, sensitive_top)))
    return tuple(out)
