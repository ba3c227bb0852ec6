"""Typed configuration: YAML in ``stacks/`` and ``policies/`` parsed and checked before anything is built."""

from mlops_spec.config.account import AccountConfig
from mlops_spec.config.environment import ACCOUNT_STACK, ENV_NAMES, EnvironmentConfig
from mlops_spec.config.errors import ConfigError, Problem
from mlops_spec.config.loader import (
    PlatformConfig,
    load_account,
    load_environment,
    load_models,
    load_platform,
    load_roles,
    production_envs,
)
from mlops_spec.config.model_spec import ModelSpec

__all__ = [
    "ACCOUNT_STACK",
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
    "production_envs",
]
