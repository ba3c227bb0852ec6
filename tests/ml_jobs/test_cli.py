"""Entry points as the jobs run them: arguments in, one JSON line out, documented exit codes."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from ml_jobs import approve, generate_data, promote, rollback, train, validate
from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, EXIT_REFUSED, InfraError
from ml_jobs.registry.client import connect
from ml_jobs.runtime import get_runtime

from .conftest import local_runtime

BASE = ["--model", "marketing_churn_gbm", "--env", "dev", "--set", "validation.max_latency_ms=5000"]
FAST = ["--param", "max_iter=30", "--param", "max_leaf_nodes=8"]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_LOCAL_ROOT", str(tmp_path))
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _registered_models(root: Path) -> list[str]:
    rt = local_runtime(root)
    return [m.name for m in MlflowClient(rt.tracking_uri, rt.registry_uri).search_registered_models()]


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_flow_generate_train_validate_promote(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate_data.main([*BASE, "--rows", "1500", "--seed", "5", "--mode", "overwrite"]) == EXIT_OK
    assert _last_json(capsys)["version"] == 0
    assert train.main([*BASE, *FAST, "--data-version", "0"]) == EXIT_OK
    trained = _last_json(capsys)
    assert trained["data_version"] == 0 and trained["version"] == "1" and not trained["reused"]
    assert validate.main(BASE) == EXIT_OK
    assert _last_json(capsys)["status"] == "passed"
    assert rollback.main(BASE) == EXIT_REFUSED  # nothing to roll back to yet
    assert "no 'previous_champion'" in capsys.readouterr().err
    assert promote.main([*BASE, "--actor", "ci"]) == EXIT_OK
    assert _last_json(capsys)["champion"] == "1"
    assert train.main([*BASE, *FAST, "--data-version", "0"]) == EXIT_OK
    assert _last_json(capsys)["reused"] is True
    # The scheduled job's next tasks on unchanged data: nothing to validate or promote, exit 0.
    assert validate.main(BASE) == EXIT_OK and _last_json(capsys)["status"] == "nothing_to_validate"
    assert promote.main(BASE) == EXIT_OK and _last_json(capsys)["changed"] is False


def test_fails_with_exit_2_on_missing_table_and_registers_nothing(root: Path, capsys) -> None:
    assert train.main(BASE) == EXIT_BAD_INPUT
    assert "table features.churn_training not found" in capsys.readouterr().err
    assert _registered_models(root) == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns=["age"]), "missing columns ['age']"),
        (lambda df: df.assign(age=df["age"].astype(str)), "age: expected a numeric type"),
        (lambda df: df.iloc[0:0], "no rows"),
        (lambda df: df.assign(churned=0), "single class"),
    ],
    ids=["missing-column", "wrong-type", "empty", "single-class"],
)
def test_fails_with_exit_2_on_bad_data_and_registers_nothing(
    root: Path, capsys, mutate, message: str
) -> None:
    from ml_jobs.data.generate import generate_churn

    get_runtime("dev", root=root).write_table(
        mutate(generate_churn(200, seed=1)), "features", "churn_training"
    )
    assert train.main([*BASE, *FAST]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and "mlops_dev.features.churn_training@v0" in err
    assert _registered_models(root) == []


def test_fails_with_exit_2_on_missing_table_version(root: Path, capsys) -> None:
    get_runtime("dev", root=root).write_table(pd.DataFrame({"a": [1]}), "features", "churn_training")
    assert train.main([*BASE, "--data-version", "4"]) == EXIT_BAD_INPUT
    assert "has no version 4" in capsys.readouterr().err


def test_fails_with_exit_2_on_bad_override_naming_the_key(root: Path, capsys) -> None:
    assert train.main([*BASE, "--set", "training.n_trials=-1"]) == EXIT_BAD_INPUT
    assert "--set: training.n_trials" in capsys.readouterr().err


def test_no_challenger_is_a_quiet_success_for_validate_and_promote(root: Path, capsys) -> None:
    assert validate.main(BASE) == EXIT_OK
    assert _last_json(capsys)["status"] == "nothing_to_validate"
    assert promote.main(BASE) == EXIT_OK
    assert _last_json(capsys)["changed"] is False


def test_fails_with_exit_2_on_an_unknown_version(root: Path, capsys) -> None:
    assert generate_data.main([*BASE, "--rows", "300", "--seed", "5"]) == EXIT_OK
    assert validate.main([*BASE, "--version", "9"]) == EXIT_BAD_INPUT
    assert "has no version 9" in capsys.readouterr().err


def test_fails_approver_typed_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert approve.main([*BASE, "--approver", "dana"]) == EXIT_BAD_INPUT  # who approves is authenticated
    assert "--approver is not accepted" in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fails_fast_with_exit_3_when_tracking_server_unreachable(root: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    from ml_jobs.data.generate import generate_churn

    get_runtime("dev", root=root).write_table(generate_churn(200, seed=1), "features", "churn_training")
    start = time.monotonic()
    assert train.main([*BASE, *FAST]) == EXIT_INFRA
    assert time.monotonic() - start < 30
    assert "unreachable after 2 attempts" in capsys.readouterr().err


def test_connect_retries_a_bounded_number_of_times(root: Path, monkeypatch) -> None:
    rt = get_runtime("dev", root=root, environ={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{_closed_port()}"})
    calls: list[float] = []
    monkeypatch.setattr("ml_jobs.registry.client.time.sleep", calls.append)
    with pytest.raises(InfraError):
        connect(rt, attempts=3, backoff_s=0.5)
    assert calls == [0.5, 1.0]  # backoff doubles; no sleep after the last attempt


def test_mid_job_connection_loss_exits_3_and_bugs_exit_4(capsys) -> None:
    from ml_jobs import cli
    from ml_jobs.errors import EXIT_BUG

    def lost() -> tuple[int, dict]:
        raise RuntimeError("API request failed") from ConnectionError("Connection refused")

    def bug() -> tuple[int, dict]:
        raise KeyError("oops")

    assert cli.run(lost) == EXIT_INFRA
    assert "stopped answering" in capsys.readouterr().err
    assert cli.run(bug) == EXIT_BUG
    assert "KeyError" in capsys.readouterr().err


def test_a_secret_never_reaches_stdout_or_stderr_whoever_prints_it(monkeypatch, capfd) -> None:
    """The net under the rule that secrets are never passed to a print, a log call or a record."""
    import logging

    from ml_jobs import cli

    secret = "https://hooks.example/T0KEN-canary-4711"
    monkeypatch.setenv("MLOPS_WEBHOOK_URL", secret)

    def leaky() -> tuple[int, dict]:
        print(f"posting to {secret}")
        logging.getLogger("ml_jobs.test").warning("webhook %s down", secret)
        raise KeyError(secret)  # a bug whose traceback quotes it

    assert cli.run(leaky) == 4
    out, err = capfd.readouterr()
    assert "T0KEN-canary-4711" not in out + err
    assert "posting to ***" in out and "KeyError" in err
