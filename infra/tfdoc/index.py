"""One stack's resources indexed by address and type, with references resolved and ordered.

``target``/``resolve`` answer "what does this value point at"; ``dependencies``/``order``/``ancestors``
answer "what does Terraform create before this", from references, ``depends_on`` and the provider
configuration a resource uses (Terraform's dependency graph: terraform docs "Resource dependencies").
Resources with no path between them may be created in any order, even in parallel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from infra.tfdoc.document import Resource
from infra.tfdoc.errors import DocumentError
from infra.tfdoc.references import is_interpolation, whole_reference

# How other resources name an object besides its ``id``. A synthesized stack refers with
# ``${type.name.attr}``; a plan (``terraform show -json``) holds what that resolved to: a grant's
# principal is the service principal's application id, a job cluster's ``policy_id`` the policy's id.
ID_ATTRS: dict[str, tuple[str, ...]] = {
    "databricks_service_principal": ("application_id", "acl_principal_id"),
    "databricks_group": ("display_name", "acl_principal_id"),
    "databricks_user": ("user_name", "acl_principal_id"),
    "databricks_model_serving": ("serving_endpoint_id",),
    "databricks_directory": ("object_id", "path"),
    "databricks_notebook": ("object_id", "path"),
    "databricks_cluster_policy": ("policy_id",),
    "databricks_mws_workspaces": ("workspace_id",),
    "databricks_metastore": ("metastore_id",),
}


def identities(rtype: str, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(attribute, literal value) pairs by which a plan's values may name an object of ``rtype``."""
    for attr in ("id", *ID_ATTRS.get(rtype, ())):
        value = values.get(attr)
        literal = isinstance(value, str | int) and not isinstance(value, bool) and not is_interpolation(value)
        if literal and str(value):
            yield attr, str(value)


class DocumentIndex:
    """Resources of one stack (or one plan), indexed by type and address."""

    def __init__(self, env: str, resources: Iterable[Resource]) -> None:
        self.env = env
        self.all = list(resources)
        self.by_address: dict[str, Resource] = {}
        self.by_type: dict[str, list[Resource]] = defaultdict(list)
        self.deleted: list[Resource] = []
        self.outputs: list[Resource] = []
        self.providers: dict[str, Resource] = {}
        self._targets: dict[str, tuple[Resource | None, str | None]] = {}
        for res in self.all:
            self.by_address[res.address] = res
            if res.mode == "output":
                self.outputs.append(res)
            elif res.mode == "provider":
                self.providers[res.address] = res
            elif res.actions and "create" not in res.actions and "delete" in res.actions:
                self.deleted.append(res)
            elif res.mode == "managed":
                self.by_type[res.type].append(res)

    def of(self, *types: str) -> Iterator[Resource]:
        for rtype in types:
            yield from self.by_type.get(rtype, ())

    # --- references ---------------------------------------------------------------------------

    def target(self, value: Any) -> tuple[Resource | None, str | None]:
        """The resource a value points at, and the attribute read from it: a ``${type.name.attr}``
        reference, or in a plan the resolved id itself (when exactly one object has it)."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            return None, None
        if not value.startswith("${"):
            return self._by_id.get(value) or (None, None)
        found = self._targets.get(value)
        if found is None:
            ref = whole_reference(value)
            found = (self.by_address.get(ref.address), ref.attr) if ref is not None else (None, None)
            self._targets[value] = found  # the same few references recur thousands of times
        return found

    @cached_property
    def _by_id(self) -> dict[str, tuple[Resource | None, str | None]]:
        found: dict[str, tuple[Resource | None, str | None]] = {}
        for res in self.all:
            if res.mode not in ("managed", "data"):
                continue
            for attr, value in identities(res.type, res.values):
                seen = found.get(value)
                # Two objects with one id (a resource and the data source reading it back) name
                # nothing for certain: the literal stays unresolved.
                found[value] = (res, attr) if seen is None or seen[0] is res else (None, None)
        return found

    def resolve(self, value: Any) -> Any:
        """The literal behind a reference when the target sets it (e.g. a group's display_name)."""
        res, attr = self.target(value)
        if res is not None and attr and attr in res.values and not is_interpolation(res.values[attr]):
            return res.values[attr]
        return value

    # --- ordering -----------------------------------------------------------------------------

    def dependencies(self, res: Resource) -> frozenset[str]:
        """Addresses this resource waits for: its references, ``depends_on`` and its provider's refs."""
        return self._edges.get(res.address, frozenset())

    @cached_property
    def _edges(self) -> dict[str, frozenset[str]]:
        edges: dict[str, frozenset[str]] = {}
        for res in self.all:
            if res.mode not in ("managed", "data", "provider"):
                continue
            wanted: set[str] = {r.address for r in res.references() if r.is_object}
            wanted |= set(res.depends_on)
            if res.mode != "provider":
                provider = self.providers.get(res.provider)
                if provider is not None:
                    wanted.add(provider.address)
            edges[res.address] = frozenset(a for a in wanted if a in self.by_address and a != res.address)
        return edges

    def order(self) -> list[Resource]:
        """Managed resources, data sources and providers in an order Terraform could apply them.

        Ties are broken by address, so the order is stable; a cycle is unusable input.
        """
        edges = self._edges
        pending = {a: set(d) for a, d in edges.items()}
        ready = sorted(a for a, d in pending.items() if not d)
        dependents: dict[str, list[str]] = defaultdict(list)
        for address, deps in edges.items():
            for dep in deps:
                dependents[dep].append(address)
        out: list[Resource] = []
        while ready:
            address = ready.pop(0)
            out.append(self.by_address[address])
            for nxt in sorted(dependents[address]):
                pending[nxt].discard(address)
                if not pending[nxt]:
                    ready.append(nxt)
                    ready.sort()
            pending.pop(address, None)
        if len(out) != len(edges):
            stuck = sorted(a for a in edges if a not in {r.address for r in out})
            raise DocumentError(f"{self.env}: dependency cycle between {', '.join(stuck[:6])}")
        return out

    def ancestors(self, address: str) -> frozenset[str]:
        """Everything that Terraform finishes before ``address`` starts (transitively)."""
        return self._ancestors.get(address, frozenset())

    @cached_property
    def _ancestors(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for res in self.order():
            acc: set[str] = set()
            for dep in self.dependencies(res):
                acc.add(dep)
                acc |= out.get(dep, frozenset())
            out[res.address] = frozenset(acc)
        return out
