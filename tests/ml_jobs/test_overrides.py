"""Job-time ``--set`` overrides: checked like the YAML they override, and never loosening production.

Issue 16: the loader's cross-field checks were skipped for overrides (a label that is a feature, a
fairness column that is none, a 5-field cron, an unknown owner group were accepted). Issue 19: in
production an override may tighten governance (approval, gate floors and limits, the promotion
margin, the fairness limit), never loosen it; which environments are production is data
(``production: true`` in ``stacks/<env>.yaml``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pytest

from ml_jobs import train
from ml_jobs.errors import EXIT_BAD_INPUT
from ml_jobs.spec import CHECKOUT_CONFIG_DIR, OVERRIDES_SOURCE, parse_overrides, resolve
from mlops_spec.config import ConfigError
from mlops_spec.config.governance import GOVERNED

MODEL = "marketing_churn_gbm"


def _resolve(env: str, *pairs: str, config_dir: Path | None = None):
    return resolve(MODEL, env, config_dir, parse_overrides(list(pairs)))


def _refusal(env: str, *pairs: str, config_dir: Path | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        _resolve(env, *pairs, config_dir=config_dir)
    assert all(p.file == OVERRIDES_SOURCE for p in err.value.problems)
    return str(err.value)


# -- issue 16: the cross-field checks run on the merged spec ---------------------------------------
@pytest.mark.parametrize(
    ("pair", "path", "why"),
    [
        ("data.label=tenure_months", "data.label", "the label cannot also be a feature"),
        (
            "data.sensitive_attribute=no_such_column",
            "data.sensitive_attribute",
            "must be one of the model's features",
        ),
        ("training.schedule=0 3 * * 1", "training.schedule", "invalid cron"),
        ("owner_group=nobody", "owner_group", "unknown group"),
    ],
)
def test_fails_override_that_breaks_a_cross_field_rule(pair: str, path: str, why: str) -> None:
    text = _refusal("dev", pair)
    assert f"--set: {path}: {why}" in text


def test_fails_cross_field_override_at_the_job_entry_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = train.main(["--model", MODEL, "--env", "dev", "--set", "data.label=tenure_months"])
    assert code == EXIT_BAD_INPUT
    assert "--set: data.label: the label cannot also be a feature" in capsys.readouterr().err


# -- issue 19: production governance may be tightened, never loosened -------------------------------
LOOSER = {
    "promotion.require_approval": "false",
    "promotion.min_improvement": "0.001",
    "validation.min_roc_auc": "0.6",
    "validation.min_f1": "0.1",
    "validation.segment_min_roc_auc": "null",
    "validation.max_regression": "0.05",
    "validation.max_demographic_parity_diff": "null",
    "validation.max_latency_ms": "5000",
    "validation.max_model_size_mb": "500",
    "data.sensitive_attribute": "region",
    "data.segment_column": "null",
}
STRICTER = {
    "promotion.min_improvement": "0.01",
    "validation.min_roc_auc": "0.8",
    "validation.min_f1": "0.3",
    "validation.segment_min_roc_auc": "0.7",
    "validation.max_regression": "0.005",
    "validation.max_demographic_parity_diff": "0.1",
    "validation.max_latency_ms": "20",
    "validation.max_model_size_mb": "25",
}


def test_every_governed_setting_has_a_loosening_case() -> None:
    assert set(LOOSER) == {".".join(k) for k in GOVERNED}


@pytest.mark.parametrize("key", sorted(LOOSER))
def test_fails_override_that_loosens_production(key: str) -> None:
    text = _refusal("prod", f"{key}={LOOSER[key]}")
    assert f"--set: {key}: loosens production governance of prod" in text


def test_fails_with_every_loosened_key_named_at_once() -> None:
    text = _refusal("prod", *(f"{k}={v}" for k, v in LOOSER.items()))
    for key in LOOSER:
        assert f"--set: {key}:" in text


def test_fails_production_override_at_the_job_entry_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--model", MODEL, "--env", "prod", "--set", "promotion.require_approval=false"]
    assert train.main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--set: promotion.require_approval: loosens production governance of prod" in err
    assert "allowed: true" in err


@pytest.mark.parametrize("key", sorted(STRICTER))
def test_override_that_tightens_production_is_accepted_and_kept(key: str) -> None:
    spec = _resolve("prod", f"{key}={STRICTER[key]}")
    section, field = key.split(".")
    assert getattr(getattr(spec.model, section), field) == float(STRICTER[key])
    assert spec.overrides == {key: float(STRICTER[key])}


def test_governance_free_settings_and_a_restated_value_are_accepted_in_production() -> None:
    spec = _resolve(
        "prod", "training.n_trials=3", "promotion.require_approval=true", "validation.min_roc_auc=0.75"
    )
    assert spec.model.training.n_trials == 3 and spec.model.promotion.require_approval
    assert spec.overrides == {
        "training.n_trials": 3,
        "promotion.require_approval": True,
        "validation.min_roc_auc": 0.75,
    }


def test_outside_production_an_override_may_loosen() -> None:
    spec = _resolve("dev", "validation.min_roc_auc=0.6", "validation.max_latency_ms=5000")
    assert spec.model.validation.min_roc_auc == 0.6


def test_production_comes_from_the_environment_file(tmp_path: Path) -> None:
    config = tmp_path / "stacks"
    shutil.copytree(CHECKOUT_CONFIG_DIR, config)
    assert (
        "validation.min_roc_auc"
        in _resolve("staging", "validation.min_roc_auc=0.6", config_dir=config).overrides
    )
    staging = config / "staging.yaml"
    staging.write_text(staging.read_text() + "\nproduction: true\n")
    assert "loosens production governance of staging" in _refusal(
        "staging", "validation.min_roc_auc=0.6", config_dir=config
    )


def test_accepted_overrides_are_recorded_on_the_training_run(flow_run_tags: dict[str, str]) -> None:
    recorded = json.loads(flow_run_tags["overrides"])
    assert recorded == {"training.n_trials": 2, "validation.max_latency_ms": 5000}


@pytest.fixture(scope="module")
def flow_run_tags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One small dev training with the test tuning as overrides; the tags of its MLflow run."""
    from ml_jobs.registry.client import connect
    from ml_jobs.training.train import train_model

    from .conftest import local_runtime, spec_for, write_churn

    runtime = local_runtime(tmp_path_factory.mktemp("overrides"), "dev")
    write_churn(runtime, 1200, seed=3, mode="overwrite")
    client = connect(runtime)
    result = train_model(spec_for("dev"), runtime, client, fixed_params={"max_iter": 10})
    mlflow.set_tracking_uri(runtime.tracking_uri)
    return dict(client.get_run(result.run_id).data.tags)
