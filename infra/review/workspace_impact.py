"""What an account-stack change does to each workspace.

A change in the account stack is reviewed like any other (resources, access, cost), but a reviewer
asks first: which workspaces does it touch, and how? The answer comes from the stack's own
dependency graph (:class:`infra.tfdoc.DocumentIndex`), never from names:

* a workspace (``databricks_mws_workspaces``) is touched by its own change and by a change to anything
  it is built from (its ancestors: credentials, storage, network, VPC endpoints, private access, keys);
* a metastore assignment or a workspace permission assignment touches the workspace its
  ``workspace_id`` refers to (a ``${ref}`` to a workspace of the stack, or the literal id of an
  existing one), and a change to the metastore behind an assignment touches that workspace too.

Both sides count: a network moved from one workspace to another touches both. The actions come from
the review's changes (the synthesized diff or a plan); the graph from the synthesized documents,
whose addresses are the plan's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.review.model import ResourceChange, WorkspaceEffect, WorkspaceImpact
from infra.review.resources import Side
from infra.tfdoc import DocumentIndex, is_interpolation, resources_from_doc

WORKSPACE = "databricks_mws_workspaces"
METASTORE = "databricks_metastore"
METASTORE_ASSIGNMENT = "databricks_metastore_assignment"
PERMISSION_ASSIGNMENT = "databricks_mws_permission_assignment"
ASSIGNMENTS = (METASTORE_ASSIGNMENT, PERMISSION_ASSIGNMENT)
# What part of a workspace a resource type is (the provider's account-level resources).
PARTS = {
    WORKSPACE: "workspace",
    "databricks_mws_networks": "network",
    "databricks_mws_vpc_endpoint": "network",
    "databricks_mws_private_access_settings": "network",
    "databricks_mws_customer_managed_keys": "keys",
    "databricks_mws_credentials": "credentials",
    "databricks_mws_storage_configurations": "storage",
    METASTORE: "metastore",
    METASTORE_ASSIGNMENT: "metastore",
    PERMISSION_ASSIGNMENT: "access",
}
PART_ORDER = ("workspace", "network", "keys", "credentials", "storage", "metastore", "access")


@dataclass
class Touches:
    """One side's graph read: address -> keys of the workspaces it touches; key -> workspace name."""

    side: Side
    by_address: dict[str, set[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def add(self, address: str, key: str) -> None:
        self.by_address.setdefault(address, set()).add(key)


def touches(doc: Mapping[str, Any], side: Side) -> Touches:
    """Which workspaces each resource of one synthesized stack touches."""
    out = Touches(side)
    present = doc.get("resource", {}) if isinstance(doc, Mapping) else {}
    if not any(t in present for t in (WORKSPACE, *ASSIGNMENTS)):
        return out  # an environment's stack: no workspace-level resources, no graph to build
    index = DocumentIndex(side.env, resources_from_doc(dict(doc), side.env))
    for ws in index.of(WORKSPACE):
        out.names[ws.address] = _name(side, ws.address)
        out.add(ws.address, ws.address)
        for address in index.ancestors(ws.address):
            if index.by_address[address].mode == "managed":
                out.add(address, ws.address)
    for res in index.of(*ASSIGNMENTS):
        value = res.values.get("workspace_id")
        target, _ = index.target(value)
        if target is not None and target.type == WORKSPACE:
            key = target.address
        elif value is not None and not is_interpolation(value):
            key = f"workspace {value}"  # an existing workspace, named by its id
            out.names.setdefault(key, key)
        else:
            continue  # a workspace this stack cannot name (a variable): nothing to group under
        out.add(res.address, key)
        for address in index.ancestors(res.address):
            if index.by_address[address].type == METASTORE:
                out.add(address, key)
    return out


def _name(side: Side, address: str) -> str:
    res = side.resources.get(address)
    return side.display(res) if res is not None else address


def workspace_impacts(changes: list[ResourceChange], base: Touches, head: Touches) -> list[WorkspaceImpact]:
    """The changes grouped by the workspace they touch, with what each does there."""
    effects: dict[str, list[WorkspaceEffect]] = {}
    # A workspace whose address changed (a renamed construct) is one workspace: key it by its new address.
    renamed = {c.old_address: c.address for c in changes if c.type == WORKSPACE and c.old_address}
    for change in changes:
        before = base.by_address.get(change.old_address or change.address, set())
        keys = head.by_address.get(change.address, set()) | {renamed.get(k, k) for k in before}
        for key in keys:
            effects.setdefault(key, []).append(_effect(change, base.side, head.side))
    names = {**base.names, **head.names}
    out = []
    for key, found in effects.items():
        found.sort(key=lambda e: (PART_ORDER.index(e.part) if e.part in PART_ORDER else 99, e.address))
        out.append(WorkspaceImpact(names.get(key, key), key, tuple(found)))
    return sorted(out, key=lambda w: w.workspace)


def _effect(change: ResourceChange, base: Side, head: Side) -> WorkspaceEffect:
    part = PARTS.get(change.type, change.type.removeprefix("databricks_"))
    before = base.resources.get(change.old_address or change.address)
    after = head.resources.get(change.address)
    if change.type == PERMISSION_ASSIGNMENT:
        what = _access(change, before, after, base, head)
    elif change.type == WORKSPACE:
        what = _workspace(change)
    elif change.type == METASTORE_ASSIGNMENT:
        what = _metastore_assignment(change)
    else:
        what = _part(change, part)
    return WorkspaceEffect(part, change.address, change.action, what)


def _attrs(change: ResourceChange) -> str:
    # No attribute differs by name: an object it refers to changed (e.g. was renamed or replaced).
    return ", ".join(a.path for a in change.attrs) or "what it refers to"


def _workspace(change: ResourceChange) -> str:
    return {
        "create": "creates the workspace",
        "update": f"updates the workspace in place ({_attrs(change)})",
        "replace": "destroys and recreates the workspace: everything in it is lost; its URL and id change"
        + (f" ({change.reason})" if change.reason else ""),
        "delete": "destroys the workspace and everything in it",
    }[change.action]


def _metastore_assignment(change: ResourceChange) -> str:
    return {
        "create": "assigns a Unity Catalog metastore to the workspace",
        "update": f"changes the workspace's metastore assignment ({_attrs(change)})",
        "replace": "unassigns the metastore, then assigns one again: Unity Catalog is unreachable "
        "from the workspace in between",
        "delete": "unassigns the metastore: the workspace's catalogs, models and tables become unreachable",
    }[change.action]


def _part(change: ResourceChange, part: str) -> str:
    owner = "the metastore the workspace is assigned to" if part == "metastore" else f"its {part}"
    verb = {
        "create": "creates",
        "update": "updates",
        "replace": "destroys and recreates",
        "delete": "destroys",
    }
    detail = f" ({_attrs(change)})" if change.action == "update" else ""
    return f"{verb[change.action]} {owner}: {change.name}{detail}"


def _access(change: ResourceChange, before: Any, after: Any, base: Side, head: Side) -> str:
    def who(side: Side, res: Any) -> str:
        value = res.values.get("principal_id")
        return f"{side.label(value)} ({side.principal_kind(value)})"

    def perms(res: Any) -> str:
        return ", ".join(str(p) for p in res.values.get("permissions") or ()) or "no permission"

    action = change.action
    if action == "create" and after is not None:
        return f"{who(head, after)} gets {perms(after)} on the workspace"
    if action == "delete" and before is not None:
        return f"{who(base, before)} loses {perms(before)} on the workspace"
    if before is not None and after is not None:
        if perms(before) == perms(after):
            return f"{who(head, after)} keeps {perms(after)} on the workspace ({_attrs(change)} changes)"
        return f"{who(head, after)}: {perms(before)} → {perms(after)} on the workspace"
    return f"{action}s a permission assignment on the workspace"
