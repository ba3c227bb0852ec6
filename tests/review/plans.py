"""Plans in the shape ``terraform show -json`` prints, made from synthesized stacks, for the review's tests.

No Terraform runs here (the Databricks provider cannot be installed): this module writes what a plan
of ``after`` over a state of ``before`` looks like, following Terraform's "JSON Output Format" page
(developer.hashicorp.com/terraform/internals/json-format) and a public plan printed by Terraform
1.9.4, read for the purpose:

* every reference is resolved: a job's ``policy_id`` is the policy's id, a grant's principal is the
  service principal's application id (a UUID), a schema's ``catalog_name`` the catalog's name;
* a value that depends on something created in the same plan is unknown: left out of ``after`` and
  ``planned_values``, marked in ``after_unknown``, while ``configuration`` keeps the expression's
  ``references``;
* nested blocks are lists (``schedule``, ``new_cluster``), map attributes stay objects;
* data sources read while planning are only in ``prior_state`` (no change, no planned value);
* unchanged resources are ``no-op`` changes with ``before`` equal to ``after``;
* a value read from a variable is known at plan time; one from a ``sensitive`` variable stays in
  ``after`` and ``planned_values`` in clear and is marked in ``after_sensitive``/``sensitive_values``.

Ids are made up but shaped like Databricks': numeric job and SCIM ids, 16-hex policy ids, UUID
application ids, UC ids that are full names. What this does not model: provider defaults and
computed attributes the review never reads, forced replacements, moved blocks.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from typing import Any

from infra.tfdoc import whole_reference

# Attributes that are maps (objects in plan JSON); every other object-valued argument is a block.
MAP_ATTRS = frozenset(
    {"custom_config", "custom_tags", "named_parameters", "spark_env_vars", "spark_conf", "tags", "properties"}
)
_REF = re.compile(r"\$\{([^{}]*)\}")
UNKNOWN = object()


class Sensitive(str):
    """A value that came from a sensitive variable (Terraform marks it, and keeps it)."""


def _digits(seed: str, n: int = 15) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:n]


def _hex(seed: str, n: int = 16) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n].upper()


def _uuid(seed: str) -> str:
    return str(uuid.UUID(hashlib.sha256(seed.encode()).hexdigest()[:32]))


def computed(rtype: str, address: str, values: dict[str, Any]) -> dict[str, Any]:
    """What the provider sets after create (the attributes other resources read)."""
    full = ".".join(str(values.get(k)) for k in ("catalog_name", "schema_name", "name") if values.get(k))
    if rtype == "databricks_service_principal":
        app = values.get("application_id") or _uuid(address)
        return {"id": _digits(address), "application_id": app, "acl_principal_id": f"servicePrincipals/{app}"}
    if rtype in ("databricks_group", "databricks_user"):
        return {"id": _digits(address), "acl_principal_id": f"groups/{values.get('display_name')}"}
    if rtype in ("databricks_job", "databricks_mlflow_experiment"):
        return {"id": _digits(address)}
    if rtype == "databricks_cluster_policy":
        return {"id": _hex(address), "policy_id": _hex(address)}
    if rtype == "databricks_catalog":
        return {"id": values.get("name")}
    if rtype in ("databricks_schema", "databricks_registered_model", "databricks_sql_table"):
        return {"id": full}  # sql_table: catalog/resource_sql_table.go, d.SetId(ti.FullName())
    if rtype == "databricks_volume":
        return {"id": full, "volume_path": "/Volumes/" + full.replace(".", "/")}
    if rtype in ("databricks_directory", "databricks_file"):
        return {"id": values.get("path"), "object_id": int(_digits(address, 12))}
    if rtype == "databricks_model_serving":
        return {"id": values.get("name"), "serving_endpoint_id": _hex(address, 32).lower()}
    if rtype == "databricks_mws_workspaces":
        return {"id": _digits(address), "workspace_id": int(_digits(address, 16))}
    if rtype.startswith("databricks_mws_"):
        kind = rtype.removeprefix("databricks_mws_").rstrip("s")
        return {"id": _uuid(address), f"{kind}_id": _uuid(address + kind)}
    return {"id": _hex(address, 20)}


def _objects(doc: dict[str, Any], section: str, prefix: str = "") -> dict[str, tuple[str, str, dict]]:
    out = {}
    for rtype, by_name in (doc.get(section) or {}).items():
        for name, body in by_name.items():
            values = {k: v for k, v in body.items() if k not in ("//", "lifecycle", "depends_on", "provider")}
            out[f"{prefix}{rtype}.{name}"] = (rtype, name, values)
    return out


def _dig(values: Any, path: tuple[str, ...]) -> Any:
    for step in path or ("id",):
        values = values.get(step) if isinstance(values, dict) else None
    return UNKNOWN if values is None else values


class _World:
    """Resolved values of every object of one document; data sources are always known."""

    def __init__(self, doc: dict[str, Any], created: set[str]) -> None:
        self.config = {**_objects(doc, "resource"), **_objects(doc, "data", "data.")}
        self.variables = doc.get("variable") or {}
        self.created = created
        self.values: dict[str, dict[str, Any]] = {}

    def attr(self, address: str, path: tuple[str, ...]) -> Any:
        if address.startswith("data.terraform_remote_state."):
            return f"from-account-stack-{path[-1][-12:]}"
        if address.startswith("var."):  # a made-up value, as CI would set it (TF_VAR_...)
            name = address.removeprefix("var.")
            value = f"https://hooks.example.invalid/{name}/{'/'.join(path)}"
            return Sensitive(value) if (self.variables.get(name) or {}).get("sensitive") else value
        if address in self.created:  # what the configuration sets is known; computed values are not
            return _dig(self.resolve(self.config[address][2]), path)
        return _dig(self.resolved(address), path)

    def resolved(self, address: str) -> dict[str, Any]:
        if address not in self.values:
            rtype, _, raw = self.config[address]
            known = self.resolve(raw)
            self.values[address] = {**computed(rtype, address, known), **known}
        return self.values[address]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        ref = whole_reference(value)
        if ref is not None:
            return self.attr(ref.address, ref.attribute)
        parts = {}
        for body in _REF.findall(value):
            inner = whole_reference("${" + body + "}")
            parts[body] = self.attr(inner.address, inner.attribute) if inner else UNKNOWN
        if any(p is UNKNOWN for p in parts.values()):
            return UNKNOWN
        text = _REF.sub(lambda m: str(parts[m.group(1)]), value)
        return Sensitive(text) if any(isinstance(p, Sensitive) for p in parts.values()) else text


def _shape(values: dict[str, Any]) -> dict[str, Any]:
    """Blocks as lists, maps as objects; unknown values left out, as Terraform leaves them out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is UNKNOWN:
            continue
        if isinstance(value, dict):
            known = {k: v for k, v in value.items() if v is not UNKNOWN}
            out[key] = known if key in MAP_ATTRS else [_shape(value)]
        elif isinstance(value, list):
            out[key] = [_shape(v) if isinstance(v, dict) else v for v in value if v is not UNKNOWN]
        else:
            out[key] = value
    return out


def _unknowns(values: dict[str, Any]) -> dict[str, Any]:
    """``after_unknown``: true where a value is known only after apply."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is UNKNOWN:
            out[key] = True
        elif isinstance(value, dict) and key not in MAP_ATTRS:
            inner = _unknowns(value)
            if inner:
                out[key] = [inner]
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            marks = [_unknowns(v) if isinstance(v, dict) else False for v in value]
            if any(marks):
                out[key] = marks
    return out


def _sensitive(values: dict[str, Any]) -> dict[str, Any]:
    """``after_sensitive`` / ``sensitive_values``: true where a value came from a sensitive variable."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Sensitive):
            out[key] = True
        elif isinstance(value, dict):
            inner = _sensitive(value)
            if inner:
                out[key] = inner if key in MAP_ATTRS else [inner]
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            marks = [_sensitive(v) if isinstance(v, dict) else False for v in value]
            if any(marks):
                out[key] = marks
    return out


def _expression(value: Any) -> dict[str, Any]:
    text = str(value)
    refs: list[str] = []
    for body in _REF.findall(text) if "${" in text else ():
        ref = whole_reference("${" + body + "}")
        if ref is not None:
            refs += [r for r in (str(ref), ref.address) if r not in refs]
    return {"references": refs} if refs else {"constant_value": value}


def _expressions(values: dict[str, Any]) -> dict[str, Any]:
    """``configuration`` expressions: references where the stack refers, constants elsewhere."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and key not in MAP_ATTRS:
            out[key] = [_expressions(value)]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out[key] = [_expressions(v) for v in value]
        else:
            out[key] = _expression(value)
    return out


def _instance(
    address: str, rtype: str, name: str, mode: str, values: dict[str, Any], marks: dict | None = None
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": mode,
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/databricks/databricks",
        "schema_version": 0,
        "values": values,
        "sensitive_values": marks or {},
    }


def plan(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The plan of applying the stack ``after`` over the state that applying ``before`` left."""
    old = _World(before or {}, set())
    old_managed = _objects(before or {}, "resource")
    new_managed = _objects(after, "resource")
    created = set(new_managed) - set(old_managed)
    new = _World(after, created)
    for address in set(new_managed) & set(old_managed):  # what exists keeps its ids
        ids = computed(new_managed[address][0], address, old.resolved(address))
        new.values[address] = {**ids, **new.resolve(new_managed[address][2])}
    changes, planned, config = [], [], []
    for address in sorted(set(new_managed) | set(old_managed)):
        rtype, name, raw = new_managed.get(address) or old_managed[address]
        prior = _shape(old.resolved(address)) if address in old_managed else None
        after_values, unknown, marks, actions = None, {}, {}, ["delete"]
        if address in new_managed:
            values = {**new.resolve(raw), "id": UNKNOWN} if address in created else new.resolved(address)
            after_values, unknown, marks = _shape(values), _unknowns(values), _sensitive(values)
            actions = ["create"] if prior is None else ["no-op"] if prior == after_values else ["update"]
            planned.append(_instance(address, rtype, name, "managed", after_values, marks))
            resource = {"address": address, "mode": "managed", "type": rtype, "name": name}
            config.append({**resource, "expressions": _expressions(copy.deepcopy(raw))})
        body = {
            "actions": actions,
            "before": prior,
            "after": after_values,
            "after_unknown": unknown,
            "before_sensitive": {} if prior is not None else False,
            "after_sensitive": marks if after_values is not None else False,
        }
        changes.append(
            {
                "address": address,
                "mode": "managed",
                "type": rtype,
                "name": name,
                "provider_name": "registry.terraform.io/databricks/databricks",
                "change": body,
            }
        )
    state = [
        _instance(address, rtype, name, "data", _shape(new.resolved(address)))
        for address, (rtype, name, _) in sorted(new.config.items())
        if address.startswith("data.") and rtype != "terraform_remote_state"
    ]
    state += [
        _instance(a, old_managed[a][0], old_managed[a][1], "managed", _shape(old.resolved(a)))
        for a in sorted(old_managed)
    ]
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "prior_state": {
            "format_version": "1.0",
            "terraform_version": "1.9.8",
            "values": {"root_module": {"resources": state}},
        },
        "configuration": {"root_module": {"resources": config}},
    }
