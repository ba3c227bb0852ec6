"""Typed configuration: YAML in ``stacks/`` and ``policies/`` parsed and checked before anything is built."""

from infra.config.account import AccountConfig
from infra.config.environment import ENV_NAMES, EnvironmentConfig
from infra.config.errors import ConfigError, Problem
from infra.config.loader import (
    PlatformConfig,
    load_account,
    load_environment,
    load_models,
    load_platform,
    load_roles,
)
from infra.config.model_spec import ModelSpec

__all__ = [
    "ENV_NAMES",
    "AccountConfig",
    "ConfigError",
    "EnvironmentConfig",
    "ModelSpec",
    "PlatformConfig",
    "Problem",
    "load_account",
    "load_environment",
    "load_models",
    "load_platform",
    "load_roles",
]
