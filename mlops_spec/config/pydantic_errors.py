"""Turn pydantic ValidationErrors into ConfigError problems that name what is allowed."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops_spec.config.errors import Problem


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


def _clean_loc(loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """Drop pydantic's union-member and tagged-union markers from the path."""
    return tuple(
        p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"local", "s3", "azurerm", "gcs"}))
    )


def problems_from(
    exc: ValidationError, file: str, model: type[BaseModel], prefix: Sequence[str | int] = ()
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            problems.append(
                Problem(
                    file,
                    (*prefix, *loc),
                    "unknown key",
                    loc[-1] if loc else None,
                    ", ".join(allowed) if allowed else None,
                )
            )
            continue
        if err["type"] == "missing":
            problems.append(Problem(file, (*prefix, *loc), "required key is missing", show_value=False))
            continue
        value = err.get("input")
        show = not isinstance(value, dict | list)
        message = err["msg"].removeprefix("Value error, ")
        problems.append(Problem(file, (*prefix, *loc), message, value, None, show))
    return problems
