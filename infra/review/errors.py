"""Errors that stop the review (exit code 2): bad input, never a silent pass.

Same shape as the guardrails' errors (file, key path, value, what is allowed), hence shared.
"""

from __future__ import annotations

from infra.guardrails.errors import GuardrailsError, problem


class ReviewError(GuardrailsError):
    """Unusable input: unknown ref, dirty tree, a base that does not synthesize, bad policy files."""


__all__ = ["ReviewError", "problem"]
