"""Find the model spec the stacks were synthesized from, and apply job-parameter overrides.

Config directory precedence: ``--config-dir`` > ``$MLOPS_CONFIG_DIR`` > the checkout's ``stacks/``
> the copy bundled into the wheel (``ml_jobs/_bundled_config``). On a job cluster only the last one
exists, so the jobs read exactly the YAML that produced the jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ml_jobs import settings
from mlops_spec.config import ConfigError, EnvironmentConfig, ModelSpec, load_environment, load_models
from mlops_spec.config.checks import check_model
from mlops_spec.config.errors import Problem
from mlops_spec.config.governance import loosened
from mlops_spec.config.kernel import problems_from
from mlops_spec.config.loader import deep_merge

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_CONFIG_DIR = PACKAGE_DIR.parent / "stacks"
BUNDLED_CONFIG_DIR = PACKAGE_DIR / "_bundled_config"
CONFIG_DIR_ENV = "MLOPS_CONFIG_DIR"
OVERRIDES_SOURCE = "--set"
"""Shown as the 'file' in errors about overrides: that is where the bad value came from."""


@dataclass(frozen=True)
class ResolvedSpec:
    model: ModelSpec
    env: EnvironmentConfig
    config_dir: Path
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """The accepted ``--set`` overrides, flat (``{"training.n_trials": 3}``): recorded on the runs."""

    @property
    def catalog(self) -> str:
        return self.env.catalog.name


def config_dir(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The first of: explicit argument, ``$MLOPS_CONFIG_DIR``, checkout ``stacks/``, bundled copy."""
    from_env = settings.current().config_dir if environ is None else environ.get(CONFIG_DIR_ENV)
    if explicit:
        return _existing(Path(explicit), "--config-dir")
    if from_env:
        return _existing(Path(from_env), f"${CONFIG_DIR_ENV}")
    for candidate in (CHECKOUT_CONFIG_DIR, BUNDLED_CONFIG_DIR):
        if (candidate / "models.yaml").is_file():
            return candidate
    raise ConfigError.single(
        str(BUNDLED_CONFIG_DIR),
        (),
        "no models.yaml found",
        show_value=False,
        allowed=f"--config-dir, ${CONFIG_DIR_ENV}, {CHECKOUT_CONFIG_DIR} or the wheel's bundled copy",
    )


def _existing(path: Path, source: str) -> Path:
    if not (path / "models.yaml").is_file():
        raise ConfigError.single(source, (), "directory has no models.yaml", str(path))
    return path


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["training.n_trials=3", "validation.min_roc_auc=0.8"]`` -> nested dict (values parsed as YAML)."""
    nested: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError.single(OVERRIDES_SOURCE, (), "expected key.path=value", pair)
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError.single(OVERRIDES_SOURCE, tuple(parts), "conflicting overrides", pair)
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else raw
    return nested


def flat(overrides: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"training": {"n_trials": 3}}`` -> ``{"training.n_trials": 3}``."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat(value, f"{path}."))
        else:
            out[path] = value
    return out


def apply_overrides(
    model: ModelSpec, overrides: Mapping[str, Any], env: EnvironmentConfig | None = None
) -> ModelSpec:
    """Re-validate the spec with overrides merged in: a bad override fails like a bad YAML value.

    The cross-field checks of the config loader run again on the merged spec (a label that is also a
    feature, a fairness column that is none, an invalid cron, an unknown owner group), and in a
    production environment no governed setting may be loosened (``mlops_spec.config.governance``).
    """
    if not overrides:
        return model
    if "name" in overrides:
        raise ConfigError.single(
            OVERRIDES_SOURCE, ("name",), "the model name cannot be overridden", overrides["name"]
        )
    merged = deep_merge(model.model_dump(mode="python"), dict(overrides))
    try:
        spec = ModelSpec.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, OVERRIDES_SOURCE, ModelSpec, ())) from exc
    if env is None:
        return spec
    # The environment maps every role of the matrix to a group (check_roles_against_env), so its
    # keys are the owner groups a model may name; the jobs ship no role matrix.
    problems = list(check_model(spec, env.groups, OVERRIDES_SOURCE, ()))
    if env.production:
        problems.extend(loosened(model, spec, OVERRIDES_SOURCE, env.environment))
    if problems:
        raise ConfigError(problems)
    return spec


def resolve(
    model_name: str,
    env: str,
    explicit_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ResolvedSpec:
    """The model's spec for ``env`` (defaults and env overrides applied, then job overrides)."""
    directory = config_dir(explicit_dir)
    env_cfg = load_environment(env, directory)
    models = {m.name: m for m in load_models(env, directory)}
    if model_name not in models:
        raise ConfigError(
            [
                Problem(
                    str(directory / "models.yaml"),
                    ("models",),
                    "unknown model",
                    model_name,
                    ", ".join(models),
                )
            ]
        )
    overrides = overrides or {}
    model = apply_overrides(models[model_name], overrides, env_cfg)
    return ResolvedSpec(model, env_cfg, directory, flat(overrides))
