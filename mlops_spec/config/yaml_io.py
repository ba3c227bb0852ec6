"""YAML reading that turns syntax errors into ConfigError with file, line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops_spec.config.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: the second one would silently win otherwise."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
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


def read_yaml(path: Path) -> dict[str, Any]:
    name = display_path(path)
    if not path.is_file():
        raise ConfigError.single(name, (), "file not found", show_value=False)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
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
