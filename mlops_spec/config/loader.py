"""Read, merge and validate configuration: the only way config enters the platform.

Order: YAML (syntax) -> pydantic (types, ranges, unknown keys) -> cross-file checks. Everything is
checked before anything is built, and all problems are reported together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_spec.config.account import (
    CLOUDS,
    SUPPORTED_CLOUDS,
    WORKSPACE_MODES,
    AccountConfig,
    BrownfieldWorkspace,
    GreenfieldWorkspace,
    check_account,
    check_account_against_env,
)
from mlops_spec.config.checks import (
    check_environment,
    check_model,
    check_role_matrix,
    check_roles_against_env,
)
from mlops_spec.config.environment import ENV_NAMES, EnvironmentConfig
from mlops_spec.config.errors import ConfigError, Problem, allowed
from mlops_spec.config.features import check_features
from mlops_spec.config.kernel import M, came_from, deep_merge, display_path, read_yaml, validate
from mlops_spec.config.model_spec import ModelSpec
from mlops_spec.config.roles import RoleMatrix
from mlops_spec.config.secrets import plaintext_secrets

__all__ = [
    "PlatformConfig",
    "check_platform_against_account",
    "deep_merge",
    "load_account",
    "load_environment",
    "load_models",
    "load_platform",
    "load_roles",
    "production_envs",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_DIR = REPO_ROOT / "stacks"
DEFAULT_POLICIES_DIR = REPO_ROOT / "policies"


@dataclass(frozen=True)
class PlatformConfig:
    """Everything one environment stack is built from, validated."""

    env: EnvironmentConfig
    models: tuple[ModelSpec, ...]
    roles: RoleMatrix
    policies_dir: Path

    @property
    def name(self) -> str:
        return self.env.environment

    def model(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"unknown model {name!r}; configured: {', '.join(m.name for m in self.models)}")


def _parse(model_cls: type[M], data: Any, file: str, problems: list[Problem]) -> M | None:
    """Validate ``data``; problems are collected, not raised."""
    try:
        return validate(model_cls, data, file)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def load_environment(env: str, config_dir: Path = DEFAULT_CONFIG_DIR) -> EnvironmentConfig:
    if env not in ENV_NAMES:
        raise ConfigError.single(
            display_path(config_dir), (), "unknown environment", env, ", ".join(ENV_NAMES)
        )
    path = config_dir / f"{env}.yaml"
    data = read_yaml(path)
    problems = plaintext_secrets(data, display_path(path))
    parsed = _parse(EnvironmentConfig, data, display_path(path), problems)
    if parsed is not None and parsed.environment != env:
        problems.append(
            Problem(display_path(path), ("environment",), "must match the file name", parsed.environment, env)
        )
    if problems:
        raise ConfigError(problems)
    assert parsed is not None  # _parse returns None only after adding a problem
    return parsed


def production_envs(config_dir: Path = DEFAULT_CONFIG_DIR) -> tuple[str, ...]:
    """The environments whose ``stacks/<env>.yaml`` says ``production: true``, for the tools that know an
    environment only by its name (the account stack, the review)."""
    return tuple(
        env
        for env in ENV_NAMES
        if (config_dir / f"{env}.yaml").exists() and load_environment(env, config_dir).production
    )


def load_models(env: str, config_dir: Path = DEFAULT_CONFIG_DIR) -> tuple[ModelSpec, ...]:
    """Models with ``defaults`` and ``overrides.<env>`` applied, in file order."""
    path = config_dir / "models.yaml"
    file = display_path(path)
    data = read_yaml(path)
    unknown = set(data) - {"defaults", "models"}
    if unknown:
        raise ConfigError.single(
            file, (sorted(unknown)[0],), "unknown key", sorted(unknown)[0], "defaults, models"
        )
    defaults, raw_models = data.get("defaults") or {}, data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise ConfigError.single(file, ("models",), "must be a non-empty list of models", raw_models)
    problems = plaintext_secrets(data, file)
    models: list[ModelSpec] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_models):
        if not isinstance(raw, dict):
            problems.append(Problem(file, ("models", i), "must be a mapping", raw))
            continue
        name = raw.get("name")
        # Only a string can be a duplicate: any other name is the model's own error (and may be unhashable).
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    Problem(
                        file,
                        ("models", i, "name"),
                        f"duplicate model name (first at models[{seen[name]}])",
                        name,
                    )
                )
                continue
            seen[name] = i
        overrides = raw.get("overrides") or {}
        bad_envs = [k for k in overrides if k not in ENV_NAMES]
        for k in bad_envs:
            problems.append(
                Problem(file, ("models", i, "overrides", k), "unknown environment", k, ", ".join(ENV_NAMES))
            )
        body = {k: v for k, v in raw.items() if k != "overrides"}
        merged = deep_merge(deep_merge(defaults, body), overrides.get(env) or {})
        before = len(problems)
        model = _parse(ModelSpec, merged, file, problems)
        for j in range(before, len(problems)):  # point at the override that introduced the value
            p = problems[j]
            from_override = came_from(overrides.get(env) or {}, p.path)
            base = ("models", i, "overrides", env) if from_override else ("models", i)
            problems[j] = Problem(p.file, (*base, *p.path), p.message, p.value, p.allowed, p.show_value)
        if model is not None:
            models.append(model)
    if problems:
        raise ConfigError(problems)
    return tuple(models)


def load_roles(policies_dir: Path = DEFAULT_POLICIES_DIR) -> RoleMatrix:
    path = policies_dir / "rbac" / "roles.yaml"
    file = display_path(path)
    data = read_yaml(path)
    problems = plaintext_secrets(data, file)
    roles = _parse(RoleMatrix, data, file, problems)
    if roles is not None:
        problems.extend(check_role_matrix(roles, file, ENV_NAMES))
    if problems:
        raise ConfigError(problems)
    assert roles is not None  # _parse returns None only after adding a problem
    return roles


def load_platform(
    env: str, config_dir: Path = DEFAULT_CONFIG_DIR, policies_dir: Path = DEFAULT_POLICIES_DIR
) -> PlatformConfig:
    """Load and cross-check one environment. Raises ConfigError listing every problem found."""
    problems: list[Problem] = []
    parts: dict[str, Any] = {}
    for key, loader in (
        ("env", lambda: load_environment(env, config_dir)),
        ("models", lambda: load_models(env, config_dir)),
        ("roles", lambda: load_roles(policies_dir)),
    ):
        try:
            parts[key] = loader()
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    env_cfg, models, roles = parts["env"], parts["models"], parts["roles"]
    env_file = display_path(config_dir / f"{env}.yaml")
    models_file = display_path(config_dir / "models.yaml")
    problems.extend(check_environment(env_cfg, env_file))
    problems.extend(check_roles_against_env(roles, env_cfg, env_file))
    for i, model in enumerate(models):
        problems.extend(check_model(model, roles.groups(), models_file, ("models", i)))
        if model.training.compute == "gpu" and env_cfg.compute.gpu_training is None:
            problems.append(
                Problem(
                    models_file,
                    ("models", i, "training", "compute"),
                    "no GPU training compute in this environment",
                    "gpu",
                    "cpu",
                )
            )
    problems.extend(check_features(models, models_file))
    if problems:
        raise ConfigError(problems)
    return PlatformConfig(env_cfg, models, roles, policies_dir)


ACCOUNT_FILE = "account.yaml"


def load_account(config_dir: Path = DEFAULT_CONFIG_DIR) -> AccountConfig | None:
    """``stacks/account.yaml`` validated, or None when there is none (workspaces managed elsewhere)."""
    path = config_dir / ACCOUNT_FILE
    if not path.exists():
        return None
    file = display_path(path)
    data = read_yaml(path)
    settings = data.get("account")
    cloud = settings.get("cloud") if isinstance(settings, dict) else None
    if cloud in CLOUDS and cloud not in SUPPORTED_CLOUDS:
        # Checked first: every AWS-specific message below would only distract from this one.
        raise ConfigError.single(
            file, ("account", "cloud"), "not supported yet", cloud, ", ".join(SUPPORTED_CLOUDS)
        )
    problems: list[Problem] = []
    parsed = _parse(AccountConfig, data, file, problems)
    problems = plaintext_secrets(data, file) + [_untag_workspace_problem(p) for p in problems]
    if parsed is not None:
        problems.extend(check_account(parsed, file))
    if problems:
        raise ConfigError(problems)
    return parsed


def _untag_workspace_problem(problem: Problem) -> Problem:
    """Drop pydantic's union tag (``workspaces.dev.brownfield.x``) and list the keys of that mode."""
    path = problem.path
    if len(path) < 3 or path[0] != "workspaces" or path[2] not in WORKSPACE_MODES:
        return problem
    keys = problem.allowed
    if problem.message == "unknown key" and len(path) == 4:
        model = GreenfieldWorkspace if path[2] == "greenfield" else BrownfieldWorkspace
        keys = allowed(model.model_fields)
    return Problem(
        problem.file, (*path[:2], *path[3:]), problem.message, problem.value, keys, problem.show_value
    )


def check_platform_against_account(
    account: AccountConfig, platform: PlatformConfig, config_dir: Path = DEFAULT_CONFIG_DIR
) -> list[Problem]:
    return list(
        check_account_against_env(
            account,
            platform.env,
            display_path(config_dir / ACCOUNT_FILE),
            display_path(config_dir / f"{platform.name}.yaml"),
        )
    )
