"""``python -m mlops_spec.config.reference [--write | --check]``: the settings reference page.

``docs/configuration.md`` lists every key of every config file with its type, constraints, default
and description, read from the typed models themselves (the models are the only source: a field
without a description is refused here). ``--check`` exits 1 when the committed page differs from
what the models say (a test runs it); ``--write`` regenerates it.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mlops_spec.config.account import AccountConfig
from mlops_spec.config.environment import EnvironmentConfig
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.config.roles import PerEnv, RoleMatrix
from mlops_spec.exit_codes import EXIT_BAD_INPUT
from mlops_spec.generated import add_file_options, deliver

DEFAULT_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@dataclass(frozen=True)
class Section:
    file: str
    model: type[BaseModel]
    prefix: str
    intro: str


SECTIONS = (
    Section(
        "stacks/<env>.yaml",
        EnvironmentConfig,
        "",
        "One file per environment (`dev`, `staging`, `prod`).",
    ),
    Section(
        "stacks/models.yaml",
        ModelSpec,
        "models[].",
        "Each model once under `models:`. Keys under the top-level `defaults:` apply to every model, and "
        "`models[].overrides.<env>` to one environment; both take any of the keys below and merge key by "
        "key (defaults, then the model, then its override).",
    ),
    Section(
        "policies/rbac/roles.yaml",
        RoleMatrix,
        "",
        "The role matrix. A *per environment* value is given under `all` and overridden under `dev`, "
        "`staging` or `prod`; `null` there means nothing in that environment.",
    ),
    Section(
        "stacks/account.yaml",
        AccountConfig,
        "",
        "The account stack: workspaces, metastores and identities (optional: without it the environment "
        "stacks deploy to existing workspaces).",
    ),
)
HEADER = """# Configuration reference

Generated from the typed models in `mlops_spec/config/` by `python -m mlops_spec.config.reference --write`;
do not edit by hand (a test fails when this page and the models disagree).

Every file is strict: an unknown key, a duplicated key, a wrong type or a value outside its
constraints is an error that names the file, the key path and what is allowed. *required* means the
key has no default. `<key>` stands for a name you choose, `[]` for each item of a list.
"""


class UndescribedFieldError(ValueError):
    """A config field without a description: the reference would have a blank row."""


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str


# --- types ----------------------------------------------------------------------------------------


def _strip(annotation: Any) -> tuple[Any, bool]:
    """(annotation without Optional/Annotated, whether None is allowed)."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return typing.Union[tuple(args)], optional  # noqa: UP007 - rebuilt from parts
            annotation = args[0]
        else:
            return annotation, optional


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    inner, _ = _strip(annotation)
    if typing.get_origin(inner) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(inner) for m in _models_in(a)]
    return [inner] if _is_model(inner) else []


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _is_per_env(annotation: Any) -> bool:
    return _is_model(annotation) and issubclass(annotation, PerEnv)


def type_name(annotation: Any) -> str:
    inner, optional = _strip(annotation)
    text = _type_name(inner)
    return f"{text} or null" if optional else text


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        if all(_is_model(a) for a in args):
            name, values = _tags(list(args))
            return f"object, by `{name}`: " + " \\| ".join(f"`{v}`" for v in values)
        return "one of: " + ", ".join(_type_name(a) for a in args)
    if origin in (tuple, list, Sequence):
        item = args[0] if args else Any
        return f"list of {_type_name(_strip(item)[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(_strip(args[1])[0])}"
    if _is_per_env(annotation):
        value = annotation.model_fields["all"].annotation
        return f"per environment: {_type_name(_strip(value)[0])}"
    if _is_model(annotation):
        return "object"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", datetime.date: "date"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def constraints(field: FieldInfo) -> str:
    parts = []
    for meta in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(meta, getattr(annotated_types, attr.capitalize())):
                parts.append(f"{sign} {getattr(meta, attr)}")
        if isinstance(meta, annotated_types.MinLen) and meta.min_length:
            parts.append(f"at least {meta.min_length}")
        if isinstance(meta, annotated_types.MaxLen):
            parts.append(f"at most {meta.max_length}")
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"pattern `{pattern}`")
    return ", ".join(parts)


def _default(field: FieldInfo) -> Any:
    """The field's default value (``PydanticUndefined`` when the key is required)."""
    if field.default_factory is not None:
        return field.get_default(call_default_factory=True)
    return field.default


def default_text(field: FieldInfo) -> str:
    value = _default(field)
    if value is PydanticUndefined:
        return "*required*"
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=True)
        if len(_models_in(field.annotation)) > 1:  # a union: name the kind the default is
            name, _ = _tags(_models_in(field.annotation))
            dumped = {name: getattr(value, name), **dumped}
        if not dumped and not isinstance(value, PerEnv):
            return "(defaults below)"
        value = dumped
    return f"`{json.dumps(value, default=str)}`"


# --- walking the models ---------------------------------------------------------------------------


def rows(model: type[BaseModel], prefix: str = "", where: str = "") -> Iterator[Row]:
    """One row per key, nested objects expanded with dotted paths (``catalog.storage_root``)."""
    for name, field in model.model_fields.items():
        if not field.description:
            raise UndescribedFieldError(f"{model.__module__}.{model.__qualname__}.{name} has no description")
        key = f"{prefix}{name}"
        kind = type_name(field.annotation)
        limits = constraints(field)
        text = f"{where}{field.description}"
        yield Row(key, f"{kind}, {limits}" if limits else kind, default_text(field), text)
        yield from _nested(field.annotation, key, field)


def _nested(annotation: Any, key: str, field: FieldInfo) -> Iterator[Row]:
    inner, _ = _strip(annotation)
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin in (tuple, list) and args:
        yield from _expand(args[0], f"{key}[].", field)
    elif origin is dict and args:
        yield from _expand(args[1], f"{key}.<key>.", field)
    else:
        yield from _expand(inner, f"{key}.", field)


def _expand(annotation: Any, prefix: str, field: FieldInfo) -> Iterator[Row]:
    found = [m for m in _models_in(annotation) if not _is_per_env(m)]
    if len(found) == 1:
        yield from rows(found[0], prefix)
        return
    if not found:
        return
    # A union of objects told apart by one key (``type``, ``mode``): that key once, then each kind's keys.
    name, values = _tags(found)
    pairs = zip(values, found, strict=True)
    kinds = "; ".join(f"`{v}`: {str(m.model_fields[name].description).rstrip('.')}" for v, m in pairs)
    value = _default(field)
    default = "*required*" if value is PydanticUndefined else f"`{getattr(value, name)}`"
    yield Row(f"{prefix}{name}", " \\| ".join(f"`{v}`" for v in values), default, f"Which kind. {kinds}.")
    for value, model in zip(values, found, strict=True):
        yield from (r for r in rows(model, prefix, f"*{name}: {value}:* ") if r.key != f"{prefix}{name}")


def _tags(models: list[type[BaseModel]]) -> tuple[str, list[str]]:
    """The key whose literal value tells the objects of a union apart, and each object's value."""
    for name in models[0].model_fields:
        annotations = [m.model_fields[name].annotation if name in m.model_fields else None for m in models]
        if all(typing.get_origin(a) is Literal for a in annotations):
            return name, [str(typing.get_args(a)[0]) for a in annotations]
    raise TypeError(f"no literal key tells {[m.__name__ for m in models]} apart")


def models_reached() -> set[type[BaseModel]]:
    """Every model the page documents (per-environment values included)."""
    found: set[type[BaseModel]] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in found:
            return
        found.add(model)
        for field in model.model_fields.values():
            for inner in _inner_models(field.annotation):
                visit(inner)

    for section in SECTIONS:
        visit(section.model)
    return found


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    inner, _ = _strip(annotation)
    args = typing.get_args(inner)
    if typing.get_origin(inner) in (tuple, list, dict) and args:
        return [m for a in args for m in _inner_models(a)]
    return _models_in(inner)


# --- the page -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|").replace("\\\\|", "\\|")


def _prose(text: str) -> str:
    """A description as YAML readers see it: ``null`` for None, angle brackets that are not HTML."""
    text = re.sub(r"\bNone\b", "null", text)
    return _cell(text.replace("<", "&lt;").replace(">", "&gt;"))


def render() -> str:
    out = [HEADER]
    for section in SECTIONS:
        own = section.model.__dict__.get("__doc__")  # not the docstring of a base class
        intro = " ".join(p for p in (section.intro, inspect.cleandoc(own) if own else "") if p)
        out += [f"## `{section.file}`", "", intro, "", "| key | type | default | description |"]
        out.append("|---|---|---|---|")
        for row in rows(section.model, section.prefix):
            cells = (_cell(row.type), _cell(row.default), _prose(row.description))
            out.append(f"| `{row.key}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m mlops_spec.config.reference", description=__doc__.splitlines()[0]
    )
    add_file_options(p, DEFAULT_PAGE, "page", shown_default="docs/configuration.md")
    args = p.parse_args(argv)
    try:
        text = render()
    except UndescribedFieldError as exc:
        print(f"error: {exc}; every config field needs a description", file=sys.stderr)
        return EXIT_BAD_INPUT
    return deliver(text, args, p.prog, source="the config models")


if __name__ == "__main__":
    sys.exit(main())
