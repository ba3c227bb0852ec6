"""How served entities are named: the name alone tells which model version a route points at."""

from __future__ import annotations

import re

MAX_NAME = 63
_VERSION_SUFFIX = re.compile(r"-(\d+)$")


def served_entity_name(model: str, version: str | int) -> str:
    """``marketing_churn_gbm`` v3 -> ``marketing-churn-gbm-3`` (the prefix is cut, never the version)."""
    suffix = f"-{int(version)}"
    return model.replace("_", "-")[: MAX_NAME - len(suffix)] + suffix


def version_of(served_name: str) -> str | None:
    """The version a served entity name encodes, or None for names this package did not write."""
    match = _VERSION_SUFFIX.search(served_name)
    return match.group(1) if match else None
