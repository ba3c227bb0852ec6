"""Kept for existing imports (``infra.simulate``); the implementation is :mod:`mlops_spec.config.kernel`."""

from mlops_spec.config.kernel import display_path, read_yaml

__all__ = ["display_path", "read_yaml"]
