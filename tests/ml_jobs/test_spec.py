from pathlib import Path

import pytest

from ml_jobs import spec as spec_mod
from mlops_spec.config import ConfigError


def test_config_dir_precedence_explicit_then_env_then_checkout(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "models.yaml").write_text("models: []\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "models.yaml").write_text("models: []\n")
    env = {spec_mod.CONFIG_DIR_ENV: str(tmp_path / "b")}
    assert spec_mod.config_dir(tmp_path / "a", env) == tmp_path / "a"
    assert spec_mod.config_dir(None, env) == tmp_path / "b"
    assert spec_mod.config_dir(None, {}) == repo_root / "stacks"


def test_fails_when_config_dir_has_no_models_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config-dir.*no models.yaml"):
        spec_mod.config_dir(tmp_path, {})


def test_resolve_applies_env_overrides_then_job_overrides() -> None:
    dev = spec_mod.resolve("marketing_churn_gbm", "dev")
    prod = spec_mod.resolve("marketing_churn_gbm", "prod", overrides={"training": {"n_trials": 3}})
    assert dev.model.training.n_trials == 5  # overrides.dev in models.yaml
    assert prod.model.training.n_trials == 3
    assert prod.model.promotion.require_approval and not dev.model.promotion.require_approval
    assert prod.catalog == "mlops_prod"


def test_parse_overrides_builds_nested_typed_values() -> None:
    parsed = spec_mod.parse_overrides(["training.n_trials=3", "validation.min_roc_auc=0.8", "data.label=y"])
    assert parsed == {"training": {"n_trials": 3}, "validation": {"min_roc_auc": 0.8}, "data": {"label": "y"}}


def test_fails_on_override_out_of_range_naming_key_and_value() -> None:
    with pytest.raises(ConfigError) as err:
        spec_mod.resolve(
            "marketing_churn_gbm", "dev", overrides=spec_mod.parse_overrides(["training.n_trials=0"])
        )
    assert "--set: training.n_trials" in str(err.value) and "0" in str(err.value)


def test_fails_on_unknown_override_key() -> None:
    with pytest.raises(ConfigError, match=r"training.n_trails.*unknown key"):
        spec_mod.resolve("marketing_churn_gbm", "dev", overrides={"training": {"n_trails": 3}})


def test_fails_on_override_without_equals_sign() -> None:
    with pytest.raises(ConfigError, match=r"expected key\.path=value"):
        spec_mod.parse_overrides(["training.n_trials"])


def test_fails_on_unknown_model_listing_configured_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown model.*marketing_churn_gbm"):
        spec_mod.resolve("no_such_model", "dev")
