"""Kept for existing imports (``ml_jobs.spec``); the implementation is :mod:`mlops_spec.config.kernel`."""

from mlops_spec.config.kernel import problems_from

__all__ = ["problems_from"]
