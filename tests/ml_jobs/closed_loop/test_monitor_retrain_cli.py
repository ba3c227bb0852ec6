"""Exit codes of the ``monitor`` and ``retrain`` entry points on bad or contended input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_jobs import monitor, retrain
from ml_jobs.retraining.lock import exclusive
from ml_jobs.runtime import get_runtime

MODEL = "marketing_churn_gbm"


def test_fails_with_exit_2_when_there_is_no_champion_to_monitor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = monitor.main(["--model", MODEL, "--env", "dev", "--local-root", str(tmp_path), "--no-retrain"])
    assert code == 2
    assert "has no champion to monitor" in capsys.readouterr().err


def test_fails_with_exit_2_on_an_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = monitor.main(["--model", "nope_nope_gbm", "--env", "dev", "--local-root", str(tmp_path)])
    assert code == 2
    assert "unknown model" in capsys.readouterr().err


def test_refuses_with_exit_1_while_another_retraining_holds_the_lock_too_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_LOCK_TIMEOUT_SECONDS", "0.3")
    runtime = get_runtime("dev", root=tmp_path, catalog="mlops_dev")
    with exclusive(runtime, MODEL):
        code = retrain.main(["--model", MODEL, "--env", "dev", "--local-root", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "held by another run" in err and "MLOPS_LOCK_TIMEOUT_SECONDS" in err
