"""One model of a Terraform document, shared by the guardrails, the review and the simulator.

* :mod:`infra.tfdoc.references`: the one parser of ``${...}`` references;
* :mod:`infra.tfdoc.document`: ``cdk.tf.json`` and ``terraform show -json`` plans as :class:`Resource`;
* :mod:`infra.tfdoc.index`: resources by address and type, references resolved, dependency order.

Data flows one way: config -> constructs -> stacks -> synthesized JSON -> this model -> the tools.
"""

from __future__ import annotations

from typing import Any

from infra.tfdoc.document import (
    SENSITIVE,
    SYNTH_GLOB,
    Resource,
    block,
    block_label,
    blocks,
    discover,
    expand,
    is_plan,
    load_file,
    load_paths,
    parse_json,
    plan_resources,
    read_json,
    synth_resources,
)
from infra.tfdoc.errors import DocumentError, problem
from infra.tfdoc.index import ID_ATTRS, DocumentIndex, identities
from infra.tfdoc.references import Reference, is_interpolation, references, substitute, whole_reference


def resources_from_doc(doc: dict[str, Any], env: str, source: str = "<memory>") -> list[Resource]:
    """Resources from an already parsed cdk.tf.json or plan document (e.g. ``Testing.synth`` output)."""
    return list(plan_resources(doc, env, source) if is_plan(doc) else synth_resources(doc, env, source))


__all__ = [
    "ID_ATTRS",
    "SENSITIVE",
    "SYNTH_GLOB",
    "DocumentError",
    "DocumentIndex",
    "Reference",
    "Resource",
    "block",
    "block_label",
    "blocks",
    "discover",
    "expand",
    "identities",
    "is_interpolation",
    "is_plan",
    "load_file",
    "load_paths",
    "parse_json",
    "plan_resources",
    "problem",
    "read_json",
    "references",
    "resources_from_doc",
    "substitute",
    "synth_resources",
    "whole_reference",
]
