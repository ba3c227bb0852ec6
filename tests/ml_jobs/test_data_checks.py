"""Issue 12, 8: data that cannot make a trustworthy model is refused before anything is registered,
and a classifier that tells nobody apart never passes validation. Real entry points, local stores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from ml_jobs import promote, settings, train, validate
from ml_jobs.data.generate import generate_churn
from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED
from ml_jobs.runtime import get_runtime
from ml_jobs.validation import gates

BASE = ["--model", "marketing_churn_gbm", "--env", "dev", "--set", "validation.max_latency_ms=60000"]
FAST = ["--param", "max_iter=30", "--param", "max_leaf_nodes=8"]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_LOCAL_ROOT", str(tmp_path))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(var, raising=False)
    yield tmp_path
    settings.reset()


def _write(root: Path, frame) -> None:
    get_runtime("dev", root=root, environ={}).write_table(
        frame, "features", "churn_training", mode="overwrite"
    )


def _versions(root: Path) -> list:
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return MlflowClient(uri, uri).search_model_versions() if (root / "mlflow.db").exists() else []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.assign(age=np.nan), "features ['age'] have no values"),
        (lambda df: df.assign(region=None), "features ['region'] have no values"),
        (lambda df: df.head(12), "12 rows in the training window; data.min_training_rows requires >= 1000"),
    ],
    ids=["all-nan-numeric", "all-null-categorical", "twelve-rows"],
)
def test_fails_with_exit_2_and_registers_nothing(root: Path, capsys, mutate, message: str) -> None:
    _write(root, mutate(generate_churn(3000, seed=1)))
    assert train.main([*BASE, *FAST]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert _versions(root) == []


def test_a_classifier_that_predicts_one_class_for_everyone_never_becomes_champion(root: Path, capsys) -> None:
    _write(root, generate_churn(3000, seed=1))
    # One tiny boosting step: every score stays near the churn rate, below 0.5: "nobody churns".
    assert train.main([*BASE, "--param", "max_iter=1", "--param", "learning_rate=0.01"]) == EXIT_OK
    capsys.readouterr()
    assert validate.main(BASE) == EXIT_REFUSED
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    failed = {g["name"] for g in report["gates"] if g["status"] == "failed"}
    assert {"non_degenerate", "min_f1"} <= failed
    assert promote.main(BASE) == EXIT_REFUSED
    assert "validation status is failed" in capsys.readouterr().err


def test_the_non_degenerate_gate_also_refuses_everyone_positive_which_min_f1_lets_through() -> None:
    everyone = np.full(1000, 0.9)
    assert gates.non_degenerate(everyone).status == "failed"
    prevalence = 0.25  # F1 of "everyone churns" = 2p / (1 + p) = 0.4: above the default min_f1 of 0.2
    assert gates.min_metric("min_f1", {"f1": 2 * prevalence / (1 + prevalence)}, "f1", 0.2).status == "passed"
    assert gates.non_degenerate(np.r_[np.full(990, 0.1), np.full(10, 0.9)]).status == "passed"
