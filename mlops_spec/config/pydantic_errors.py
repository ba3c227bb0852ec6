"""Kept for ``ml_jobs.spec`` alone (delete with that import); the implementation is
:mod:`mlops_spec.config.kernel`."""

from mlops_spec.config.kernel import problems_from

__all__ = ["problems_from"]
