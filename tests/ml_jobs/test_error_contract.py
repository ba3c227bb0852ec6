"""One error contract for every ml_jobs entry point (``mlops_spec.exit_codes``): 0 ok, 1 refused,
2 bad input or config, 3 infrastructure after bounded retries, 4 a bug, 5-7 monitor outcomes.

Each case runs the real entry point (in this process) against a local project folder and checks
its exit code and what stderr names; nothing here mocks the stores.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from ml_jobs import (
    approve,
    deploy,
    generate_data,
    monitor,
    promote,
    retrain,
    rollback,
    settings,
    train,
    validate,
)
from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_INFRA
from mlops_spec import exit_codes

BASE = ["--model", "marketing_churn_gbm", "--env", "dev"]
ENTRY_POINTS: dict[str, tuple[Callable[[list[str]], int], list[str]]] = {
    "train": (train.main, []),
    "validate": (validate.main, []),
    "promote": (promote.main, []),
    "approve": (approve.main, []),
    "rollback": (rollback.main, []),
    "monitor": (monitor.main, []),
    "retrain": (retrain.main, []),
    "deploy": (deploy.main, []),
    "generate-data": (generate_data.main, ["--rows", "10"]),
}


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "DATABRICKS_RUNTIME_VERSION",
        "MLOPS_CONFIG_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLOPS_LOCAL_ROOT", str(tmp_path))
    yield tmp_path
    settings.reset()


def test_the_codes_are_one_table() -> None:
    codes = {k: v for k, v in vars(exit_codes).items() if k.startswith("EXIT_")}
    assert sorted(codes.values()) == list(range(len(codes))), codes  # each code means one thing


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_fails_with_exit_2_naming_a_bad_mlops_variable(
    name: str, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main, extra = ENTRY_POINTS[name]
    monkeypatch.setenv("MLOPS_TRACKING_RETRIES", "lots")
    assert main([*BASE, *extra]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "MLOPS_TRACKING_RETRIES: not a number; got 'lots'; allowed: an integer >= 1" in err
    assert not (root / "mlflow.db").exists()  # failed before touching anything


def test_fails_with_exit_2_on_every_bad_variable_at_once_and_never_shows_a_secret(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLOPS_WEBHOOK_URL", "ftp://hooks.example/CANARY-7f3a")
    monkeypatch.setenv("MLOPS_LOCK_TIMEOUT_SECONDS", "-1")
    monkeypatch.setenv("MLOPS_LOG_LEVEL", "LOUD")
    assert monitor.main(BASE) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "MLOPS_WEBHOOK_URL: must start with http:// or https://; got '<redacted>'" in err
    assert "MLOPS_LOCK_TIMEOUT_SECONDS" in err and "MLOPS_LOG_LEVEL" in err
    assert "CANARY-7f3a" not in err


@pytest.mark.parametrize(
    ("param", "named"),
    [("max_iter=abc", "--param: max_iter"), ("learning_rate=-1", "--param: learning_rate"),
     ("depth=3", "--param: depth: unknown hyperparameter"), ("random_state=1", "--param: random_state")],
)  # fmt: skip
def test_fails_with_exit_2_on_bad_param_values(
    param: str, named: str, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main([*BASE, "--param", param]) == EXIT_BAD_INPUT
    assert named in capsys.readouterr().err
    assert retrain.main([*BASE, "--param", param]) == EXIT_BAD_INPUT


def test_fails_with_exit_2_when_the_local_root_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    if os.geteuid() == 0:  # root writes through file modes; sysfs refuses even root
        target = Path("/sys/fs/mlops-not-writable")
    else:
        target = tmp_path / "read-only"
        target.mkdir(mode=0o500)
    monkeypatch.setenv("MLOPS_LOCAL_ROOT", str(target))
    assert validate.main(BASE) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "environment: MLOPS_LOCAL_ROOT: the local root is not writable" in err and str(target) in err


def test_fails_with_exit_3_while_another_process_holds_the_store_locked(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ml_jobs.registry.client import connect
    from ml_jobs.runtime import get_runtime

    connect(get_runtime("dev", root=root, environ={}))  # the store exists
    monkeypatch.setenv("MLOPS_STORE_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("MLOPS_TRACKING_RETRIES", "2")
    monkeypatch.setenv("MLOPS_TRACKING_BACKOFF_SECONDS", "0.05")
    holder = sqlite3.connect(root / "mlflow.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert validate.main(BASE) == EXIT_INFRA
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert "locked" in err


def test_fails_with_exit_3_on_a_corrupt_registry_store(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / "mlflow.db").write_bytes(b"this is not SQLite " * 64)
    assert validate.main(BASE) == EXIT_INFRA
    assert "corrupt" in capsys.readouterr().err


def test_fails_with_exit_3_on_a_corrupt_delta_table(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ml_jobs.data.generate import generate_churn
    from ml_jobs.runtime import get_runtime

    get_runtime("dev", root=root, environ={}).write_table(generate_churn(50, 1), "features", "churn_training")
    log = root / "tables" / "features" / "churn_training" / "_delta_log"
    next(log.glob("*.json")).write_text("{not json")
    assert train.main([*BASE, "--param", "max_iter=5"]) == EXIT_INFRA
    err = capsys.readouterr().err
    assert "features.churn_training" in err and "unreadable" in err
