"""Read synthesized stacks (``cdk.tf.json``) and ``terraform show -json`` plans into resources.

Both kinds end up as one flat list of :class:`Resource`: managed resources, data sources, outputs
and provider configurations. Nested blocks stay as cdktf wrote them (object or list); readers use
``blocks()``, which accepts both. The guardrails, the review and the simulator all read through here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from infra.tfdoc.errors import DocumentError, problem
from infra.tfdoc.references import Reference, references
from mlops_spec.config.kernel import problems_from


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource (or data source, output or provider configuration) from either input kind.

    ``values`` keeps Terraform interpolations such as ``${databricks_group.x.display_name}`` as
    strings; :class:`infra.tfdoc.DocumentIndex` resolves them. ``lifecycle`` is None when the input
    cannot tell (plan JSON does not carry lifecycle settings).
    """

    address: str
    type: str
    name: str
    values: dict[str, Any]
    env: str
    source: str
    construct_path: str | None = None
    mode: str = "managed"  # managed | data | output | provider
    lifecycle: dict[str, Any] | None = None
    actions: tuple[str, ...] = ()  # plan input: the planned change actions

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Explicit ``depends_on`` addresses (cdktf writes them as plain addresses)."""
        raw = self.values.get("depends_on") or ()
        out = []
        for item in raw if isinstance(raw, list) else ():
            if isinstance(item, str):
                out.append(item.removeprefix("${").removesuffix("}"))
        return tuple(out)

    @property
    def provider(self) -> str:
        """The provider configuration address this resource uses: ``provider.databricks[.alias]``."""
        raw = self.values.get("provider")
        if isinstance(raw, str) and raw:
            return "provider." + raw.removeprefix("${").removesuffix("}")
        return "provider." + self.type.split("_", 1)[0]

    def references(self) -> list[Reference]:
        """References in the resource's arguments (not in ``depends_on``/``provider``)."""
        return references({k: v for k, v in self.values.items() if k not in ("depends_on", "provider")})


def blocks(values: Any, key: str) -> list[dict[str, Any]]:
    """A nested block as a list: cdktf writes single blocks as objects, plans always as lists."""
    raw = values.get(key) if isinstance(values, dict) else None
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        return [b for b in raw if isinstance(b, dict)]
    return []


def block(values: Any, key: str) -> dict[str, Any]:
    found = blocks(values, key)
    return found[0] if found else {}


def block_label(item: Any, index: int, id_keys: Sequence[str]) -> str:
    """How a path names a block in a list: its first string ``id_keys`` attribute, else its index.

    ``task[train]`` rather than ``task[3]``, so inserting a block does not rename those after it.
    """
    if isinstance(item, dict):
        for key in id_keys:
            label = item.get(key)
            if isinstance(label, str):
                return label
    return str(index)


SYNTH_GLOB = "cdktf.out/stacks/*/cdk.tf.json"
SYNTH_FILE = "cdk.tf.json"
MAX_DEPTH = 64
"""Deepest nesting accepted. Synthesized stacks and plans are about 10 levels deep; a document far
deeper is not one, and would make recursive readers fail instead of refusing it."""
_INDEX_SUFFIX = re.compile(r"\[[^\]]*\]$")


def discover(root: Path) -> list[Path]:
    """Synthesized stacks under ``root``; none found is an error, never an empty pass."""
    found = sorted(root.glob(SYNTH_GLOB))
    if not found:
        raise DocumentError(
            f"{root / SYNTH_GLOB}: no synthesized stacks found; run `make synth` first "
            "(or pass the cdk.tf.json files to read)"
        )
    return found


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a folder stands for the stacks in it: its own ``cdk.tf.json``, else
    ``stacks/*/cdk.tf.json`` or ``cdktf.out/stacks/*/cdk.tf.json`` below it."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        found = [path / SYNTH_FILE] if (path / SYNTH_FILE).is_file() else []
        found = found or sorted(path.glob(f"stacks/*/{SYNTH_FILE}")) or sorted(path.glob(SYNTH_GLOB))
        if not found:
            raise DocumentError(
                f"{path}: a folder with no {SYNTH_FILE}, stacks/*/{SYNTH_FILE} or {SYNTH_GLOB} in it"
            )
        out += found
    return out


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        raise _DuplicateKey(next(k for k in keys if keys.count(k) > 1))
    return obj


def _too_deep(doc: Any) -> bool:
    """Level by level (no recursion, no tuple per node): about 10 ms per 3,000 resources."""
    level, depth = [doc], 1
    while level:
        if depth > MAX_DEPTH:
            return True
        below: list[Any] = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level, depth = below, depth + 1
    return False


def parse_json(text: str | bytes, source: str) -> dict[str, Any]:
    """A JSON object from text, refusing what Terraform would refuse or a reader could misread:
    bytes that are not UTF-8, duplicate keys (only one value would be seen), absurd nesting."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(
                f"{source}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                "expected a cdk.tf.json or a `terraform show -json` plan"
            ) from None
    try:
        doc = json.loads(text, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"{source}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise DocumentError(
            f"{source}: duplicate key {exc.key!r}: Terraform rejects it; a reader would see one value only"
        ) from None
    except RecursionError:
        raise DocumentError(
            f"{source}: nested deeper than {MAX_DEPTH} levels: not a Terraform document"
        ) from None
    if not isinstance(doc, dict):
        raise DocumentError(problem(source, "<root>", "expected a JSON object", type(doc).__name__))
    if _too_deep(doc):
        raise DocumentError(f"{source}: nested deeper than {MAX_DEPTH} levels: not a Terraform document")
    return doc


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_json(data, str(path))


def is_plan(doc: dict[str, Any]) -> bool:
    return "planned_values" in doc or "resource_changes" in doc


def load_file(path: Path, env: str | None = None) -> list[Resource]:
    """Load one file of either kind. A synthesized stack's env is its directory name."""
    doc = read_json(path)
    if is_plan(doc):
        if not env:
            raise DocumentError(f"{path}: a plan has no stack directory to name its environment; pass --env")
        return list(plan_resources(doc, env, str(path)))
    if not any(key in doc for key in ("resource", "data", "terraform", "provider")):
        raise DocumentError(
            problem(
                str(path),
                "<root>",
                "neither a cdk.tf.json nor a `terraform show -json` plan",
                sorted(doc)[:5],
                "top-level resource/data/terraform (cdktf) or planned_values/resource_changes (plan)",
            )
        )
    return list(synth_resources(doc, env or path.parent.name, str(path)))


def load_paths(paths: Iterable[Path], env: str | None = None) -> list[Resource]:
    resources: list[Resource] = []
    for path in paths:
        resources.extend(load_file(path, env))
    return resources


# --- cdk.tf.json -----------------------------------------------------------------------------


def _typed_section(doc: dict[str, Any], key: str, source: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    section = doc.get(key, {})
    if not isinstance(section, dict):
        raise DocumentError(
            problem(source, key, "expected an object of resource types", type(section).__name__)
        )
    for rtype, by_name in section.items():
        if not isinstance(by_name, dict):
            raise DocumentError(problem(source, f"{key}.{rtype}", "expected an object of resources"))
        for name, body in by_name.items():
            if not isinstance(body, dict):
                raise DocumentError(
                    problem(source, f"{key}.{rtype}.{name}", "expected an object", type(body).__name__)
                )
            yield rtype, name, body


def _construct_path(body: dict[str, Any]) -> str | None:
    meta = body.get("//")
    metadata = meta.get("metadata") if isinstance(meta, dict) else None
    path = metadata.get("path") if isinstance(metadata, dict) else None
    return path if isinstance(path, str) else None


def synth_resources(doc: dict[str, Any], env: str, source: str) -> Iterator[Resource]:
    for rtype, name, body in _typed_section(doc, "resource", source):
        values = {k: v for k, v in body.items() if k not in ("//", "lifecycle")}
        lifecycle = body.get("lifecycle") or {}
        yield Resource(
            f"{rtype}.{name}",
            rtype,
            name,
            values,
            env,
            source,
            _construct_path(body),
            "managed",
            lifecycle if isinstance(lifecycle, dict) else {},
        )
    for rtype, name, body in _typed_section(doc, "data", source):
        values = {k: v for k, v in body.items() if k != "//"}
        yield Resource(
            f"data.{rtype}.{name}", rtype, name, values, env, source, _construct_path(body), "data"
        )
    outputs = doc.get("output", {})
    if not isinstance(outputs, dict):
        raise DocumentError(
            problem(source, "output", "expected an object of outputs", type(outputs).__name__)
        )
    for name, body in outputs.items():
        if not isinstance(body, dict):
            raise DocumentError(problem(source, f"output.{name}", "expected an object", type(body).__name__))
        yield Resource(f"output.{name}", "output", name, body, env, source, None, "output")
    yield from _synth_providers(doc, env, source)


def _synth_providers(doc: dict[str, Any], env: str, source: str) -> Iterator[Resource]:
    """``provider.databricks`` (and ``provider.databricks.<alias>``) with their configuration."""
    section = doc.get("provider", {})
    if not isinstance(section, dict):
        raise DocumentError(
            problem(source, "provider", "expected an object of providers", type(section).__name__)
        )
    for ptype, configs in section.items():
        for body in configs if isinstance(configs, list) else [configs]:
            if not isinstance(body, dict):
                raise DocumentError(
                    problem(source, f"provider.{ptype}", "expected an object", type(body).__name__)
                )
            alias = body.get("alias")
            address = f"provider.{ptype}" + (f".{alias}" if isinstance(alias, str) and alias else "")
            values = {k: v for k, v in body.items() if k != "//"}
            yield Resource(address, ptype, str(alias or ptype), values, env, source, None, "provider")


# --- terraform show -json ---------------------------------------------------------------------


def _config_expressions(module: dict[str, Any], prefix: str, out: dict[str, dict[str, Any]]) -> None:
    for res in module.get("resources", []) or []:
        if isinstance(res, dict) and "address" in res:
            out[prefix + res["address"]] = res.get("expressions", {}) or {}
    for call_name, call in (module.get("module_calls", {}) or {}).items():
        if isinstance(call, dict) and isinstance(call.get("module"), dict):
            _config_expressions(call["module"], f"{prefix}module.{call_name}.", out)


def _reference(expr: dict[str, Any]) -> str | None:
    refs = expr.get("references")
    if isinstance(refs, list) and refs and isinstance(refs[0], str):
        return "${" + refs[0] + "}"
    return None


SENSITIVE = "(sensitive value)"
"""What a plan's sensitive value reads as: Terraform keeps it in ``terraform show -json`` output and
marks it in ``sensitive_values`` / ``after_sensitive``; the tools never see (or print) the value."""


def mask_sensitive(values: Any, marks: Any) -> Any:
    """``values`` with every leaf ``marks`` flags true replaced by ``SENSITIVE``."""
    if marks is True:
        return SENSITIVE if values is not None else None
    if isinstance(marks, dict) and isinstance(values, dict):
        return {k: mask_sensitive(v, marks.get(k)) for k, v in values.items()}
    if isinstance(marks, list) and isinstance(values, list):
        return [mask_sensitive(v, m) for v, m in zip(values, marks, strict=False)] + values[len(marks) :]
    return values


def fill_unknowns(values: Any, exprs: Any) -> Any:
    """Put ``${ref}`` where a planned value is unknown (computed) but the config references it.

    A policy created in the same plan has no id yet; its reference tells which resource it is.
    """
    if isinstance(exprs, dict) and isinstance(values, dict):
        out = dict(values)
        for key, expr in exprs.items():
            current = out.get(key)
            if isinstance(expr, dict) and ("references" in expr or "constant_value" in expr):
                if current is None:
                    ref = _reference(expr)
                    out[key] = ref if ref is not None else expr.get("constant_value")
            elif isinstance(expr, list) and isinstance(current, list):
                out[key] = [fill_unknowns(v, e) for v, e in zip(current, expr, strict=False)] + current[
                    len(expr) :
                ]
            elif isinstance(expr, list) and current is None and expr:
                out[key] = [fill_unknowns({}, e) for e in expr]
        return out
    return values


def _walk_planned(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (r for r in module.get("resources", []) or [] if isinstance(r, dict))
    for child in module.get("child_modules", []) or []:
        if isinstance(child, dict):
            yield from _walk_planned(child)


class _Lax(BaseModel):
    """The parts of a plan the readers use, typed; everything else passes through unread."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Change(_Lax):
    actions: list[str] = []
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class _ResourceChange(_Lax):
    address: str
    mode: str = "managed"
    type: str = ""
    name: str = ""
    change: _Change | None = None


class _PlannedResource(_Lax):
    address: str
    mode: str = "managed"
    type: str = ""
    name: str = ""
    values: dict[str, Any] | None = None


class _PlannedModule(_Lax):
    resources: list[_PlannedResource] | None = None
    child_modules: list[_PlannedModule] | None = None


class _Output(_Lax):
    sensitive: Any = False


class _Planned(_Lax):
    root_module: _PlannedModule | None = None
    outputs: dict[str, _Output] | None = None


class _ConfigResource(_Lax):
    address: str
    expressions: dict[str, Any] | None = None


class _ModuleCall(_Lax):
    module: _ConfigModule | None = None


class _ConfigModule(_Lax):
    resources: list[_ConfigResource] | None = None
    module_calls: dict[str, _ModuleCall] | None = None
    outputs: dict[str, dict[str, Any]] | None = None


class _Configuration(_Lax):
    root_module: _ConfigModule | None = None


class _PriorState(_Lax):
    values: _Planned | None = None


class _Plan(_Lax):
    planned_values: _Planned | None = None
    prior_state: _PriorState | None = None
    resource_changes: list[_ResourceChange] | None = None
    configuration: _Configuration | None = None


_INSTANCE_OF = re.compile(r" or instance of _\w+")


def check_plan_shape(doc: dict[str, Any], source: str) -> None:
    """Refuse a plan whose structure the readers would misread (a list where an object belongs)."""
    try:
        _Plan.model_validate(doc)
    except ValidationError as exc:
        problems = [_INSTANCE_OF.sub("", str(p)) for p in problems_from(exc, source, _Plan)]
        raise DocumentError(problems) from None


def plan_resources(doc: dict[str, Any], env: str, source: str) -> Iterator[Resource]:
    check_plan_shape(doc, source)
    config = doc.get("configuration", {}) or {}
    exprs: dict[str, dict[str, Any]] = {}
    if isinstance(config.get("root_module"), dict):
        _config_expressions(config["root_module"], "", exprs)
    changes = {
        c["address"]: c
        for c in doc.get("resource_changes", []) or []
        if isinstance(c, dict) and "address" in c
    }

    planned = doc.get("planned_values", {}) or {}
    root = planned.get("root_module")
    seen: set[str] = set()
    if isinstance(root, dict):
        for res in _walk_planned(root):
            address = res.get("address")
            if not isinstance(address, str) or not isinstance(res.get("values", {}), dict):
                raise DocumentError(
                    problem(source, "planned_values.root_module", "malformed resource", address)
                )
            seen.add(address)
            yield _plan_resource(res, res.get("values") or {}, exprs, changes.get(address), env, source)
    # Deletions are not in planned_values; keep them (with their prior values) for lifecycle rules.
    for address, change in changes.items():
        if address in seen:
            continue
        body = change.get("change", {}) or {}
        actions = tuple(body.get("actions", []) or [])
        values = body.get("after") if body.get("after") is not None else body.get("before")
        if actions == ("no-op",) and values is None:
            continue
        yield _plan_resource(change, values or {}, exprs, change, env, source)
    yield from _prior_data_sources(doc, seen | set(changes), exprs, env, source)
    yield from _plan_outputs(planned, config, env, source)


def _prior_data_sources(
    doc: dict[str, Any], seen: set[str], exprs: dict[str, dict[str, Any]], env: str, source: str
) -> Iterator[Resource]:
    """Data sources Terraform read while planning: they are only in ``prior_state`` (no change is
    planned for them), yet their values (a group's id, a service principal's application id) are
    what the planned values of grants and permissions hold. Terraform docs, "JSON Output Format"."""
    prior = ((doc.get("prior_state") or {}).get("values") or {}).get("root_module")
    if not isinstance(prior, dict):
        return
    for res in _walk_planned(prior):
        address = res.get("address")
        if res.get("mode") != "data" or not isinstance(address, str) or address in seen:
            continue
        values = res.get("values") or {}
        if not isinstance(values, dict):
            raise DocumentError(problem(source, f"prior_state: {address}.values", "expected an object"))
        yield _plan_resource(res, values, exprs, None, env, source)


def _plan_resource(
    res: dict[str, Any],
    values: dict[str, Any],
    exprs: dict[str, dict[str, Any]],
    change: dict[str, Any] | None,
    env: str,
    source: str,
) -> Resource:
    address = res["address"]
    mode = "data" if res.get("mode") == "data" else "managed"
    marks = res.get("sensitive_values")
    if marks is None:
        marks = ((change or {}).get("change", {}) or {}).get("after_sensitive")
    filled = fill_unknowns(mask_sensitive(values, marks), exprs.get(_INDEX_SUFFIX.sub("", address), {}))
    actions = tuple((change or {}).get("change", {}).get("actions", []) or [])
    return Resource(
        address,
        str(res.get("type", "")),
        str(res.get("name", "")),
        filled,
        env,
        source,
        None,
        mode,
        None,
        actions,
    )


def _plan_outputs(
    planned: dict[str, Any], config: dict[str, Any], env: str, source: str
) -> Iterator[Resource]:
    outputs = planned.get("outputs", {}) or {}
    config_outputs = (config.get("root_module", {}) or {}).get("outputs", {}) or {}
    for name in sorted(set(outputs) | set(config_outputs)):
        value = (outputs.get(name) or {}).get("value")
        if value is None:
            value = _reference((config_outputs.get(name) or {}).get("expression", {}) or {})
        sensitive = (outputs.get(name) or config_outputs.get(name) or {}).get("sensitive", False)
        body = {"value": value, "sensitive": sensitive}
        yield Resource(f"output.{name}", "output", name, body, env, source, None, "output")
