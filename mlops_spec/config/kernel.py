"""The one way YAML becomes validated data: read, merge, validate, report by key path.

Every YAML file of the platform goes through here: the stacks' config (``stacks/*.yaml``), the role
matrix, the guardrails' rules/params/waivers and the review's pricing and ownership maps. So they
all reject the same mistakes the same way:

* a duplicated key is an error (YAML would silently keep the last value);
* a syntax error names the line and column;
* an unknown key, a wrong type or a value out of range names the file, the key path, the value and
  what is allowed (``stacks/prod.yaml: compute.cpu_training.max_workers: ...; got 0``);
* mappings merge key by key (``defaults`` + ``overrides.<env>``) with one :func:`deep_merge`.

Errors are :class:`~mlops_spec.config.errors.ConfigError` (exit code 2 in every CLI).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mlops_spec.config.errors import ConfigError, Problem

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


# --- reading ------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: the second one would silently win otherwise."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def display_path(path: Path) -> str:
    """Path relative to the working directory when possible: what a user typed or sees in git."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_yaml(path: Path, *, optional: bool = False) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty file: ``{}``; ``optional`` and missing: ``{}``)."""
    name = display_path(path)
    if not path.is_file():
        if optional and not path.exists():
            return {}
        raise ConfigError.single(name, (), "file not found", show_value=False)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError.single(name, (), f"not UTF-8 text ({exc.reason})", show_value=False) from exc
    except OSError as exc:
        raise ConfigError.single(name, (), f"cannot read: {exc.strerror or exc}", show_value=False) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError.single(
            name, (), f"YAML syntax error at {where}: {exc.problem or exc}", show_value=False
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError.single(name, (), f"YAML error: {exc}", show_value=False) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError.single(name, (), "top level must be a mapping", type(data).__name__, "a mapping")
    return data


# --- merging ------------------------------------------------------------------------------------


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in ``override`` replaces the base value."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def came_from(override: Any, loc: Sequence[str | int]) -> bool:
    """True when ``override`` (a mapping merged over defaults) itself sets the value at ``loc``."""
    node = override
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# --- validating ---------------------------------------------------------------------------------


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (Optional, tuples, dict values, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """Field names of the model that sits at ``loc`` (None when it cannot be told)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            # dict[str, Model] entries and union tags: keep the same model, next part is the key.
            continue
        current = _submodel(field.annotation)
    return sorted(current.model_fields) if current is not None else None


def _clean_loc(loc: Sequence[str | int]) -> Loc:
    """Drop pydantic's union-member and tagged-union markers from the path."""
    return tuple(
        p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"local", "s3", "azurerm", "gcs"}))
    )


def problems_from(
    exc: ValidationError,
    file: str,
    model: type[BaseModel],
    prefix: Sequence[str | int] | Callable[[Loc], Sequence[str | int]] = (),
) -> list[Problem]:
    """Key-path problems of a ValidationError; ``prefix`` (or a function of the location) roots them."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        root = tuple(prefix(loc) if callable(prefix) else prefix)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            problems.append(
                Problem(
                    file,
                    (*root, *loc),
                    "unknown key",
                    loc[-1] if loc else None,
                    ", ".join(allowed) if allowed else None,
                )
            )
            continue
        if err["type"] == "missing":
            problems.append(Problem(file, (*root, *loc), "required key is missing", show_value=False))
            continue
        value = err.get("input")
        show = not isinstance(value, dict | list)
        message = err["msg"].removeprefix("Value error, ")
        problems.append(Problem(file, (*root, *loc), message, value, None, show))
    return problems


def validate(
    model: type[M],
    data: Any,
    file: str,
    prefix: Sequence[str | int] | Callable[[Loc], Sequence[str | int]] = (),
) -> M:
    """``model`` from ``data``, or ConfigError listing every problem with its key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, file, model, prefix)) from None


def load(path: Path, model: type[M], *, optional: bool = False) -> M:
    """Read and validate one file in one step (``optional``: a missing file validates ``{}``)."""
    return validate(model, read_yaml(path, optional=optional), display_path(path))
