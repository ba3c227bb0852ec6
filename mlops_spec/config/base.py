"""Shared pydantic base: strict, frozen, and typo-proof."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
"""Unity Catalog identifiers we create: lower case, digits, underscores (no quoting needed)."""


class Spec(BaseModel):
    """Base for every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
