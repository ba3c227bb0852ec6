"""Errors that make the guardrails' input or policy data unusable (exit code 2).

Messages name the file, the key path, the bad value and what is allowed, in the same shape as
``mlops_spec.config``: ``policies/guardrails/params.yaml: envs.prod.max_workers: must be > 0; got -1``.
Unreadable Terraform documents raise the shared :class:`infra.tfdoc.DocumentError`, its base.
"""

from __future__ import annotations

from infra.tfdoc.errors import DocumentError, problem

__all__ = ["DocumentError", "GuardrailsError", "problem"]


class GuardrailsError(DocumentError):
    """Policy data (rules, parameters, waivers) the engine cannot evaluate. Never treated as a pass."""
