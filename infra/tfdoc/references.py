"""The one parser of Terraform references in synthesized JSON and plan values.

A value such as ``"${databricks_directory.experiments.path}/churn"`` holds one reference; a cdktf
cross-stack value ``"${data.terraform_remote_state.cross-stack-reference-input-account.outputs.x}"``
holds another. Everything that needs to know what a value points at (guardrails, review, simulator)
asks this module, so the three never disagree about what a reference is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# A traversal inside an interpolation: root segment, then .attr / [index] steps.
_TRAVERSAL = re.compile(r"(?<![\w.\-\]])([A-Za-z_][\w-]*)((?:\.[A-Za-z_*][\w-]*|\[[^\]\[]*\])+)")
_STEP = re.compile(r"\.([A-Za-z_*][\w-]*)|\[([^\]\[]*)\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
META_ROOTS = frozenset({"var", "local", "path", "terraform", "count", "each", "self"})


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference: ``address`` is what Terraform orders by, ``attribute`` what is read from it."""

    address: str
    """``databricks_group.x``, ``data.databricks_group.x``, ``module.m``, ``var.x``, ``local.y``."""
    attribute: tuple[str, ...]
    kind: str
    """resource | data | module | var | local | meta"""

    @property
    def attr(self) -> str | None:
        return self.attribute[0] if self.attribute else None

    @property
    def is_object(self) -> bool:
        """A managed resource or data source: something that is created or read, hence ordered."""
        return self.kind in ("resource", "data")

    def __str__(self) -> str:
        return ".".join((self.address, *self.attribute))


def is_interpolation(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _expressions(text: str) -> Iterator[str]:
    """The bodies of every ``${...}`` in ``text``, braces balanced and string literals skipped."""
    start = text.find("${")
    while start != -1:
        depth, i, in_string = 0, start + 2, False
        while i < len(text):
            ch = text[i]
            if in_string:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    yield text[start + 2 : i]
                    break
                depth -= 1
            i += 1
        else:
            return  # unterminated: not an interpolation Terraform would accept; nothing to order by
        start = text.find("${", i + 1)


def _reference(root: str, steps: str) -> Reference | None:
    parts = [m.group(1) for m in _STEP.finditer(steps) if m.group(1) is not None]
    if root in META_ROOTS:
        if not parts:
            return None
        kind = root if root in ("var", "local") else "meta"
        return Reference(f"{root}.{parts[0]}", tuple(parts[1:]), kind)
    if root == "data":
        if len(parts) < 2:
            return None
        return Reference(f"data.{parts[0]}.{parts[1]}", tuple(parts[2:]), "data")
    if root == "module":
        if not parts:
            return None
        return Reference(f"module.{parts[0]}", tuple(parts[1:]), "module")
    if not parts:
        return None
    return Reference(f"{root}.{parts[0]}", tuple(parts[1:]), "resource")


def references_in_text(text: str) -> list[Reference]:
    found: list[Reference] = []
    for expr in _expressions(text):
        bare = _STRING.sub('""', expr)
        for match in _TRAVERSAL.finditer(bare):
            tail = bare[match.end() :].lstrip()
            if tail.startswith("("):
                continue  # a function call such as element(...), not a reference
            ref = _reference(match.group(1), match.group(2))
            if ref is not None and ref not in found:
                found.append(ref)
    return found


def references(value: Any) -> list[Reference]:
    """Every reference anywhere in a value (strings, nested blocks and lists), in order, once each."""
    found: list[Reference] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            if "${" in node:
                found.extend(r for r in references_in_text(node) if r not in found)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(value)
    return found


def whole_reference(value: Any) -> Reference | None:
    """The reference when the value is exactly one ``${...}`` traversal, e.g. ``${databricks_job.x.id}``."""
    if not (isinstance(value, str) and value.startswith("${") and value.endswith("}")):
        return None
    exprs = list(_expressions(value))
    if len(exprs) != 1 or len(exprs[0]) != len(value) - 3:
        return None
    refs = references_in_text(value)
    if len(refs) != 1:
        return None
    expr = exprs[0].strip()
    ref = refs[0]
    # Only a bare traversal counts as "the value is that object's attribute" (not f(x) or "a${x}").
    return ref if re.fullmatch(r"[\w.\-\[\]\"*]+", expr) else None


def substitute(value: str, label: Any) -> str:
    """Replace each whole ``${traversal}`` in a string by ``label(reference)`` (a readable name)."""

    def repl(match: re.Match[str]) -> str:
        ref = whole_reference(match.group(0))
        return str(label(ref)) if ref is not None else match.group(0)

    return re.sub(r"\$\{[^{}]*\}", repl, value)
