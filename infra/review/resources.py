"""One side of the review (base or head) per environment: resources by address, and references.

Both synthesized stacks (``cdk.tf.json``) and ``terraform show -json`` plans end up as
``{address: Res}``; the shared document model (:mod:`infra.tfdoc`) does the parsing and finds the
references, so the review, the guardrails and the simulator see the same input.
``Side.label`` turns ``${databricks_service_principal.x.application_id}`` into the SP's display name
so that tables name people and robots, not tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from infra.tfdoc import (
    ID_ATTRS,
    Reference,
    identities,
    is_interpolation,
    resources_from_doc,
    substitute,
    whole_reference,
)

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
    "databricks_mws_workspaces": "workspace_name",
    "databricks_mws_networks": "network_name",
    "databricks_mws_vpc_endpoint": "vpc_endpoint_name",
    "databricks_mws_private_access_settings": "private_access_settings_name",
    "databricks_mws_credentials": "credentials_name",
    "databricks_mws_storage_configurations": "storage_configuration_name",
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


PRINCIPAL_TYPES = ("databricks_group", "databricks_service_principal", "databricks_user")
_KIND = {
    "databricks_group": "group",
    "databricks_service_principal": "service principal",
    "databricks_user": "user",
}
# Unity Catalog names a service principal by its application id, a UUID (Databricks docs,
# "Manage privileges in Unity Catalog": principals are users by e-mail, groups by name, service
# principals by application ID).
_APPLICATION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
UNKNOWN_PRINCIPAL = "principal"


@dataclass
class Side:
    """All managed resources of one environment on one side of the change.

    Values are either references (a synthesized stack: ``${data.databricks_group.x.display_name}``)
    or what Terraform resolved them to (a plan: the group's name, the service principal's
    application id, the policy's id). :meth:`resolve` finds the object behind either, so names,
    kinds and costs read the same from both inputs.
    """

    env: str
    resources: dict[str, Res]
    actions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # plan input only
    sensitive: dict[str, Any] = field(default_factory=dict)  # plan input: address -> *_sensitive map
    lookups: dict[str, Res] = field(default_factory=dict)  # data sources, for names only (never diffed)
    _by_id: dict[str, list[Res]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for res in [*self.resources.values(), *self.lookups.values()]:
            for _, value in identities(res.type, res.values):
                found = self._by_id.setdefault(value, [])
                if res not in found:
                    found.append(res)

    def get(self, rtype: str, name: str) -> Res | None:
        return self.resources.get(f"{rtype}.{name}")

    def resolve(self, value: Any, types: tuple[str, ...] = ()) -> Res | None:
        """The resource or data source a value points at: a ``${ref}`` or a resolved id (one match)."""
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str) or not value:
            return None
        ref = whole_reference(value)
        if ref is not None:
            res = self.resources.get(ref.address) or self.lookups.get(ref.address)
            return res if res is not None and (not types or res.type in types) else None
        found = [r for r in self._by_id.get(value, ()) if not types or r.type in types]
        return found[0] if len({r.address for r in found}) == 1 else None

    def display(self, res: Res) -> str:
        """A resource's human name: a UC full name, a group's display name, a policy's name."""
        if res.type in _UC_PARENTS:
            parts = [self._text(res.values.get(p)) for p in _UC_PARENTS[res.type]]
            return ".".join([*parts, self._text(res.values.get("name"))])
        for attr in (_NAME_ATTR.get(res.type), "name", "display_name", "path", "application_id"):
            if attr and isinstance(res.values.get(attr), str):
                return self._text(res.values[attr])
        return res.address.removeprefix("data.")

    def _text(self, value: Any) -> str:
        """A name as written: references replaced, literals kept (a name is not an id to look up)."""
        return substitute(value, self._ref_label) if is_interpolation(value) else str(value)

    def _ref_label(self, ref: Reference) -> str:
        res = self.resources.get(ref.address) or self.lookups.get(ref.address)
        if ref.address.startswith("data.terraform_remote_state."):
            return f"{ref.attribute[-1] if ref.attribute else ref.address} (output of another stack)"
        if res is None:
            return ref.address.removeprefix("data.")
        attr = ref.attr
        if attr in (None, "id", *ID_ATTRS.get(res.type, ())) or attr not in res.values:
            return self.display(res)
        value = res.values[attr]
        return str(self.label(value)) if isinstance(value, str) else str(value)

    def label(self, value: Any, types: tuple[str, ...] = PRINCIPAL_TYPES) -> Any:
        """A readable name for a value: every ``${type.name.attr}`` in a string replaced, and a
        resolved id of one of ``types`` (principals unless told) replaced by that object's name."""
        if not isinstance(value, str):
            return value
        if not is_interpolation(value):
            res = self.resolve(value, types)
            return self.display(res) if res is not None else value
        return substitute(value, self._ref_label)

    def principal_kind(self, value: Any, attr: str | None = None) -> str:
        """group, service principal or user: from what the value resolves to, else from its shape.

        ``attr`` is the attribute that holds it, when its name says the kind (``service_principal_id``).
        A SCIM id that resolves to nothing known is an unknown principal, never guessed a group.
        """
        for hint, kind in (("service_principal", "service principal"), ("user", "user"), ("group", "group")):
            if attr and attr.startswith(hint):
                return kind
        res = self.resolve(value, PRINCIPAL_TYPES)
        if res is not None:
            return _KIND[res.type]
        ref = whole_reference(value)
        if ref is not None:  # a data source or resource this side does not hold: its type says
            return _KIND.get(ref.address.removeprefix("data.").split(".", 1)[0], UNKNOWN_PRINCIPAL)
        if not isinstance(value, str) or is_interpolation(value):
            return UNKNOWN_PRINCIPAL
        if "@" in value:
            return "user"
        if _APPLICATION_ID.match(value) or value.startswith("servicePrincipals/"):
            return "service principal"
        if value.isdigit() or attr in ("member_id", "principal_id"):
            return UNKNOWN_PRINCIPAL  # a SCIM id this stack does not declare
        return "group"  # Unity Catalog and ACLs name groups by their display name


def side_from_doc(doc: dict[str, Any], env: str, source: str = "<memory>") -> Side:
    """Managed resources of a synthesized stack (``cdk.tf.json``), with its data sources for names."""
    resources: dict[str, Res] = {}
    lookups: dict[str, Res] = {}
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
        # A string: resources_from_doc above refused a plan whose changes lack one (check_plan_shape).
        address: str = change["address"]
        rtype, name = str(change.get("type", "")), str(change.get("name", ""))
        body = change.get("change", {}) or {}
        actions[address] = tuple(body.get("actions", []) or [])
        sensitive[address] = {"before": body.get("before_sensitive"), "after": body.get("after_sensitive")}
        if isinstance(body.get("before"), dict):
            before[address] = Res(address, rtype, name, body["before"])
        if isinstance(body.get("after"), dict):
            # The planned values with ``${ref}`` where they are unknown until apply (nested too: a
            # job cluster's policy_id when the policy is created in the same plan).
            values = _known_first(body["after"], filled[address].values if address in filled else {})
            after[address] = Res(address, rtype, name, {k: v for k, v in values.items() if v is not None})
    return (
        Side(env, before, actions, sensitive, lookups=lookups),
        Side(env, after, actions, sensitive, lookups=lookups),
    )


def _known_first(known: Any, filled: Any) -> Any:
    """The plan's ``after`` value, with the configuration's ``${ref}`` where it is unknown, at any depth."""
    if isinstance(known, dict) and isinstance(filled, dict):
        keys = [*known, *(k for k in filled if k not in known)]
        return {k: _known_first(known.get(k), filled.get(k)) for k in keys}
    if isinstance(known, list) and isinstance(filled, list):
        return [_known_first(k, f) for k, f in zip(known, filled, strict=False)] + known[len(filled) :]
    return filled if known is None else known
