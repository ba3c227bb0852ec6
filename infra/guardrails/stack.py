"""One environment's resources, indexed, with Terraform references resolved.

Rules ask the index questions ("which policy does this cluster use?", "is this principal a
service principal?") instead of parsing interpolations themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from infra.tfdoc import (
    DocumentIndex,
    Reference,
    Resource,
    block,
    block_label,
    blocks,
    is_interpolation,
    substitute,
)

__all__ = [
    "StackIndex",
    "as_bool",
    "as_number",
    "block",
    "blocks",
    "is_interpolation",
    "item_label",
    "job_clusters",
    "job_tasks",
    "listing",
    "mapping",
    "scalar",
    "strings",
]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
T = TypeVar("T")
BROAD_GROUPS = frozenset({"users", "account users"})

GROUP_TYPES = frozenset({"databricks_group"})
SP_TYPES = frozenset({"databricks_service_principal"})
USER_TYPES = frozenset({"databricks_user", "databricks_current_user"})


def mapping(value: Any) -> dict[str, Any]:
    """A map attribute (tags, spark_conf, named_parameters) as a dict; anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def listing(value: Any) -> list[Any]:
    """A list attribute as a list; one value alone counts as a list of it (never silently dropped)."""
    if isinstance(value, list):
        return value
    return [] if value is None or isinstance(value, dict) else [value]


def scalar(value: Any) -> str | int | float | bool | None:
    """A value usable as a name or key: strings and numbers pass, lists and maps read as None."""
    return value if isinstance(value, str | int | float | bool) else None


def job_tasks(job: Resource) -> Iterator[dict[str, Any]]:
    """Every task of a job, including those nested in ``for_each_task`` (run once per input)."""
    pending = list(blocks(job.values, "task"))
    while pending:
        task = pending.pop(0)
        yield task
        pending += blocks(block(task, "for_each_task"), "task")


# Keys that identify a block in a list: paths read ``task[train].new_cluster`` rather than ``task[3]``.
_ID_KEYS = ("task_key", "job_cluster_key", "key", "name", "entity_name", "model_name")


def item_label(item: Any, index: int) -> str:
    """A list item's name in guardrail paths (``task[train]``): the keys above, else its index."""
    return block_label(item, index, _ID_KEYS)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, innermost key, text) of every string in a value, blocks named by their key."""
    pending: list[tuple[Any, str, str]] = [(value, path, "")]
    while pending:
        node, where, key = pending.pop()
        if isinstance(node, str):
            yield where, key, node
        elif isinstance(node, dict):
            pending += [(v, f"{where}.{k}" if where else str(k), str(k)) for k, v in node.items()]
        elif isinstance(node, list):
            pending += [(v, f"{where}[{item_label(v, i)}]", key) for i, v in enumerate(node)]


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # group | service_principal | user | unknown
    name: str  # display name (groups), application id or display name (SPs), email (users)

    @property
    def is_broad(self) -> bool:
        return self.kind == "group" and self.name.lower() in BROAD_GROUPS

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} '{self.name}'"


@dataclass(frozen=True, slots=True)
class Policy:
    """A cluster policy with its definition parsed; ``definition`` is None when not literal JSON."""

    resource: Resource
    name: str
    definition: dict[str, Any] | None
    error: str | None

    def rule(self, key: str) -> dict[str, Any] | None:
        entry = (self.definition or {}).get(key)
        return entry if isinstance(entry, dict) else None

    def fixed(self, key: str) -> Any:
        entry = self.rule(key)
        return entry.get("value") if entry and entry.get("type") == "fixed" else None

    def allowed(self, key: str) -> list[Any] | None:
        """Values the policy lets through: None means unconstrained (or constrained by regex/range)."""
        entry = self.rule(key)
        if not entry:
            return None
        if entry.get("type") == "fixed":
            return [entry.get("value")]
        if entry.get("type") == "allowlist" and isinstance(entry.get("values"), list):
            return list(entry["values"])
        return None

    def maximum(self, key: str) -> float | None:
        """The largest value the policy admits for a numeric attribute (None = unbounded)."""
        return self._bound(key, "maxValue", max)

    def minimum(self, key: str) -> float | None:
        return self._bound(key, "minValue", min)

    def _bound(self, key: str, range_key: str, pick: Any) -> float | None:
        entry = self.rule(key)
        if not entry:
            return None
        if entry.get("type") == "fixed":
            return as_number(entry.get("value"))
        if entry.get("type") == "range":
            return as_number(entry.get(range_key))
        if entry.get("type") == "allowlist" and isinstance(entry.get("values"), list):
            nums = [as_number(v) for v in entry["values"]]
            return pick(nums) if nums and all(n is not None for n in nums) else None
        return None

    def default(self, key: str) -> Any:
        entry = self.rule(key)
        return entry.get("defaultValue") if entry else None

    def is_job_only(self) -> bool:
        """True when ``cluster_type`` admits only job (or DLT) clusters, never all-purpose ones."""
        allowed = self.allowed("cluster_type")
        return bool(allowed and all(v in ("job", "dlt") for v in allowed))


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster spec wherever it sits: a ``databricks_cluster`` or a job's ``new_cluster``."""

    owner: Resource
    label: str  # "" for databricks_cluster, else e.g. 'job_cluster "train"'
    values: dict[str, Any]
    kind: str  # all-purpose | job

    @property
    def where(self) -> str:
        return f"{self.owner.address} {self.label}".strip()


class StackIndex(DocumentIndex):
    """Resources of one environment, indexed, plus what the rules ask of them."""

    def __init__(self, env: str, resources: list[Resource]) -> None:
        super().__init__(env, resources)
        self._memo: dict[Any, Any] = {}
        # Every stack of the run, by environment (set by the engine): the account stack's rules
        # look at the environment stacks its workspaces serve.
        self.peers: Mapping[str, StackIndex] = {}

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """Compute once per stack what several rules need (grants, GPU-ness of a policy, ...)."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]  # stored by compute() for this key
        return value

    def peer(self, env: str) -> StackIndex | None:
        """Another stack of the same run (None when that stack is not part of this run)."""
        return self.peers.get(env)

    @property
    def from_plan(self) -> bool:
        return any(r.lifecycle is None for r in self.all if r.mode == "managed")

    # --- references ---------------------------------------------------------------------------

    def readable(self, text: str) -> str:
        """``text`` with each ``${type.name.attr}`` replaced by the name of what it points at."""
        return substitute(text, self._label) if "${" in text else text

    def _label(self, ref: Reference) -> str:
        res = self.by_address.get(ref.address)
        if res is None:
            return ref.address if not ref.attribute else f"{ref.address} ({ref.attribute[-1]})"
        for key in ("display_name", "name", "user_name", "path", "label"):
            value = res.values.get(key)
            if isinstance(value, str) and value and not is_interpolation(value):
                return value
        return res.address

    def principal(self, value: Any, kind: str | None = None) -> Principal:
        """Who a principal value names. ``kind`` comes from the key (``group_name`` etc.) when known."""
        if isinstance(value, str):
            return self.memo(("principal", value, kind), lambda: self._principal(value, kind))
        return self._principal(value, kind)

    def _principal(self, value: Any, kind: str | None) -> Principal:
        res, _ = self.target(value)
        if res is not None:
            if res.type in GROUP_TYPES:
                return Principal("group", str(res.values.get("display_name", res.name)))
            if res.type in SP_TYPES:
                return Principal("service_principal", str(res.values.get("display_name", res.name)))
            if res.type in USER_TYPES:
                return Principal("user", str(res.values.get("user_name", res.name)))
        if not isinstance(value, str) or is_interpolation(value):
            return Principal(kind or "unknown", str(value))
        if kind:
            return Principal(kind, value)
        if "@" in value:
            return Principal("user", value)
        if _UUID.match(value):
            return Principal("service_principal", value)
        return Principal("group", value)

    # --- cluster policies ---------------------------------------------------------------------

    @cached_property
    def policies(self) -> dict[str, Policy]:
        return {r.address: _parse_policy(r) for r in self.of("databricks_cluster_policy")}

    def policy_of(self, cluster: Cluster) -> Policy | None:
        """The platform policy a cluster references, or None (no policy, or one not managed here)."""
        return self.policy_for(cluster.values.get("policy_id"))

    def policy_for(self, reference: Any) -> Policy | None:
        """The platform policy a ``policy_id``/``cluster_policy_id`` value references, or None."""
        res, _ = self.target(reference)
        return self.policies.get(res.address) if res is not None else None

    def clusters(self) -> list[Cluster]:
        return self._clusters

    @cached_property
    def _clusters(self) -> list[Cluster]:
        found = [Cluster(res, "", res.values, "all-purpose") for res in self.of("databricks_cluster")]
        for job in self.of("databricks_job"):
            found.extend(job_clusters(job))
        return found


def job_clusters(job: Resource) -> Iterator[Cluster]:
    for jc in blocks(job.values, "job_cluster"):
        for spec in blocks(jc, "new_cluster"):
            yield Cluster(job, f'job_cluster "{jc.get("job_cluster_key", "?")}"', spec, "job")
    for task in blocks(job.values, "task"):
        for spec in blocks(task, "new_cluster"):
            yield Cluster(job, f'task "{task.get("task_key", "?")}" new_cluster', spec, "job")


def _parse_policy(res: Resource) -> Policy:
    name = str(res.values.get("name", res.name))
    raw = res.values.get("definition")
    if raw is None and res.values.get("policy_family_definition_overrides") is not None:
        raw = res.values.get("policy_family_definition_overrides")
    if isinstance(raw, dict):
        return Policy(res, name, raw, None)
    if not isinstance(raw, str) or is_interpolation(raw):
        return Policy(res, name, None, f"definition is not literal JSON ({str(raw)[:60]!r})")
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        return Policy(res, name, None, f"definition is not valid JSON: {exc.msg}")
    if not isinstance(parsed, dict):
        return Policy(res, name, None, "definition is not a JSON object")
    return Policy(res, name, parsed, None)
