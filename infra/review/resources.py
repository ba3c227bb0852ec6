"""One side of the review (base or head) per environment: resources by address, and references.

Both synthesized stacks (``cdk.tf.json``) and ``terraform show -json`` plans end up as
``{address: Res}``; the shared document model (:mod:`infra.tfdoc`) does the parsing and finds the
references, so the review, the guardrails and the simulator see the same input.
``Side.label`` turns ``${databricks_service_principal.x.application_id}`` into the SP's display name
so that tables name people and robots, not tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.tfdoc import Reference, is_interpolation, resources_from_doc, substitute, whole_reference

# The attribute that names a resource of a type, when `name` is not it.
_NAME_ATTR = {
    "databricks_group": "display_name",
    "databricks_service_principal": "display_name",
    "databricks_user": "user_name",
    "databricks_directory": "path",
    "databricks_file": "path",
    "databricks_notebook": "path",
    "databricks_workspace_file": "path",
    "databricks_secret": "key",
    "databricks_secret_acl": "principal",
    "databricks_ip_access_list": "label",
}
# Unity Catalog securables whose id is their dotted full name.
_UC_PARENTS = {
    "databricks_schema": ("catalog_name",),
    "databricks_volume": ("catalog_name", "schema_name"),
    "databricks_registered_model": ("catalog_name", "schema_name"),
    "databricks_table": ("catalog_name", "schema_name"),
    "databricks_sql_table": ("catalog_name", "schema_name"),
}


@dataclass(frozen=True, slots=True)
class Res:
    address: str
    type: str
    name: str
    values: dict[str, Any]
    lifecycle: dict[str, Any] = field(default_factory=dict)
    construct_path: str | None = None


@dataclass
class Side:
    """All managed resources of one environment on one side of the change."""

    env: str
    resources: dict[str, Res]
    actions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # plan input only
    sensitive: dict[str, Any] = field(default_factory=dict)  # plan input: address -> *_sensitive map
    lookups: dict[str, Res] = field(default_factory=dict)  # data sources, for names only (never diffed)
    _by_value: dict[str, str] = field(default_factory=dict)
    _type_by_value: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plan values hold real ids (a state's application_id, group id): map them back to names.
        for res in [*self.resources.values(), *self.lookups.values()]:
            if res.type in ("databricks_group", "databricks_service_principal", "databricks_user"):
                label = self.display(res)
                for attr in ("id", "application_id", "user_name"):
                    value = res.values.get(attr)
                    if isinstance(value, str) and value and not is_interpolation(value):
                        self._by_value.setdefault(value, label)
                        self._type_by_value.setdefault(value, res.type)

    def get(self, rtype: str, name: str) -> Res | None:
        return self.resources.get(f"{rtype}.{name}")

    def display(self, res: Res) -> str:
        """A resource's human name: a UC full name, a group's display name, a policy's name."""
        if res.type in _UC_PARENTS:
            parts = [self.label(res.values.get(p)) for p in _UC_PARENTS[res.type]]
            return ".".join([*parts, str(self.label(res.values.get("name")))])
        for attr in (_NAME_ATTR.get(res.type), "name", "display_name", "path"):
            if attr and isinstance(res.values.get(attr), str):
                return str(self.label(res.values[attr]))
        return res.address

    def _ref_label(self, ref: Reference) -> str:
        res = self.resources.get(ref.address) or self.lookups.get(ref.address)
        if res is None:
            return ref.address.removeprefix("data.")
        attr = ref.attr
        if attr in (None, "id", "application_id", "serving_endpoint_id", "policy_id", "user_name") or (
            attr not in res.values
        ):
            return self.display(res)
        value = res.values[attr]
        return str(self.label(value)) if isinstance(value, str) else str(value)

    def label(self, value: Any) -> Any:
        """Replace every ``${type.name.attr}`` (and known plan ids) in a string by a readable name."""
        if not isinstance(value, str):
            return value
        if value in self._by_value:
            return self._by_value[value]
        return substitute(value, self._ref_label)

    def _type_of(self, ref: Reference) -> str:
        res = self.resources.get(ref.address) or self.lookups.get(ref.address)
        return res.type if res is not None else ref.address.removeprefix("data.").split(".", 1)[0]

    def principal_kind(self, value: Any) -> str:
        """group, service principal or user, from the reference or the plan value."""
        if not isinstance(value, str):
            return "group"
        ref = whole_reference(value)
        rtype = self._type_of(ref) if ref is not None else self._type_by_value.get(value)
        if rtype == "databricks_service_principal":
            return "service principal"
        if rtype == "databricks_user" or "@" in value:
            return "user"
        return "group"


def side_from_doc(doc: dict[str, Any], env: str, source: str = "<memory>") -> Side:
    """Managed resources of a synthesized stack (``cdk.tf.json``), with its data sources for names."""
    resources, lookups = {}, {}
    for r in resources_from_doc(doc, env, source):
        if r.mode in ("managed", "data"):
            res = Res(r.address, r.type, r.name, dict(r.values), r.lifecycle or {}, r.construct_path)
            (resources if r.mode == "managed" else lookups)[r.address] = res
    return Side(env, resources, lookups=lookups)


def sides_from_plan(doc: dict[str, Any], env: str, source: str) -> tuple[Side, Side]:
    """(before, after) of a ``terraform show -json`` plan, with its actions and sensitivity maps.

    Values come from ``resource_changes``; where an after value is unknown until apply, the
    guardrails reader supplies the ``${ref}`` the configuration holds (a policy created in the
    same plan has no id yet).
    """
    read = resources_from_doc(doc, env, source)
    filled = {r.address: r for r in read if r.mode == "managed"}
    lookups = {r.address: Res(r.address, r.type, r.name, dict(r.values)) for r in read if r.mode == "data"}
    before: dict[str, Res] = {}
    after: dict[str, Res] = {}
    actions: dict[str, tuple[str, ...]] = {}
    sensitive: dict[str, Any] = {}
    for change in doc.get("resource_changes", []) or []:
        if not isinstance(change, dict) or change.get("mode", "managed") != "managed":
            continue
        address, rtype, name = change.get("address"), str(change.get("type", "")), str(change.get("name", ""))
        body = change.get("change", {}) or {}
        actions[address] = tuple(body.get("actions", []) or [])
        sensitive[address] = {"before": body.get("before_sensitive"), "after": body.get("after_sensitive")}
        if isinstance(body.get("before"), dict):
            before[address] = Res(address, rtype, name, body["before"])
        if isinstance(body.get("after"), dict):
            known = filled[address].values if address in filled else {}
            values = {
                **{k: v for k, v in known.items() if v is not None},
                **{k: v for k, v in body["after"].items() if v is not None},
            }
            after[address] = Res(address, rtype, name, values)
    return (
        Side(env, before, actions, sensitive, lookups=lookups),
        Side(env, after, actions, sensitive, lookups=lookups),
    )
