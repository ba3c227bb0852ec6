"""``deploy`` with ``--rollout shadow``: registry aliases pick the pair, logged requests are scored
offline, no workspace is called (model loading is replaced by plain score functions)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml_jobs.data.generate import generate_churn
from ml_jobs.deploy import main
from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED, BadInput
from ml_jobs.runtime import get_runtime
from ml_jobs.serving import job as deploy_job

pytestmark = pytest.mark.usefixtures("deploy_env")


@pytest.fixture(scope="session")
def request_log(registry_root):
    """500 logged requests (feature columns) in the local inference log table."""
    runtime = get_runtime("dev", root=registry_root, environ={})
    runtime.write_table(
        generate_churn(500, seed=3), "inference_logs", "marketing_churn_gbm_payload", mode="overwrite"
    )


def scorer(shift: float):
    def score(frame: pd.DataFrame) -> np.ndarray:
        z = -0.05 * frame["tenure_months"].to_numpy() + 0.02 * frame["monthly_charges"].to_numpy() + shift
        return 1 / (1 + np.exp(-z))

    return score


@pytest.fixture
def loaded(monkeypatch) -> list[tuple[str, str]]:
    """Versions 1 and 2 score alike; version 3 has moved far. Records what was loaded."""
    calls: list[tuple[str, str]] = []
    shifts = {"1": 0.0, "2": 0.05, "3": 3.0}

    def load(name: str, version: str):
        calls.append((name, version))
        return scorer(shifts[version])

    monkeypatch.setattr(deploy_job, "load_predictor", load)
    return calls


@pytest.fixture
def shadow(registry_root, request_log, capsys):
    def run(*extra: str) -> tuple[int, dict | None, str]:
        code = main(
            [
                "--model",
                "marketing_churn_gbm",
                "--env",
                "dev",
                "--local-root",
                str(registry_root),
                "--rollout",
                "shadow",
                *extra,
            ]
        )
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    return run


def test_compares_the_challenger_with_the_champion_without_a_workspace(shadow, set_aliases, loaded):
    set_aliases(champion="1", challenger="2")
    code, out, _ = shadow()
    assert code == EXIT_OK and out["status"] == "passed"
    assert (out["candidate"], out["baseline"], out["traffic_changed"]) == ("2", "1", False)
    assert out["n_requests"] == 500
    assert [version for _, version in loaded] == ["1", "2"]
    assert {name for name, _ in loaded} == {"mlops_dev.models.marketing_churn_gbm"}


def test_after_promotion_compares_the_champion_with_the_previous_one(shadow, set_aliases, loaded):
    set_aliases(champion="3", previous_champion="1")
    code, out, _ = shadow()
    assert code == EXIT_REFUSED and out["status"] == "failed"
    assert (out["candidate"], out["baseline"]) == ("3", "1")
    assert any("agreement" in r for r in out["reasons"])


def test_nothing_to_compare_on_the_first_version(shadow, set_aliases, loaded):
    set_aliases(champion="1")
    code, out, _ = shadow()
    assert code == EXIT_OK and out["status"] == "unchanged" and loaded == []


def test_fails_on_a_missing_request_log(shadow, set_aliases, loaded):
    set_aliases(champion="1", challenger="2")
    code, _, err = shadow("--requests-table", "inference_logs.nothing_here")
    assert code == EXIT_BAD_INPUT and "inference_logs.nothing_here not found" in err


def test_fails_on_a_malformed_request_table_name(shadow, set_aliases, loaded):
    set_aliases(champion="1", challenger="2")
    code, _, err = shadow("--requests-table", "nothing_here")
    assert code == EXIT_BAD_INPUT and "expected schema.table" in err


@pytest.mark.parametrize("column", ["request_time", "event_ts"])
def test_takes_the_newest_requests_by_time_not_by_row_position(tmp_path, column):
    """The table's rows come back newest first (as an unordered collect may): the tail was the oldest."""
    from tests.ml_jobs.conftest import spec_for

    runtime = get_runtime("dev", root=tmp_path, environ={})
    log = generate_churn(40, seed=4)
    log["event_ts"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(40), unit="min")
    if column == "request_time":
        log["request_time"], log["event_ts"] = log["event_ts"], pd.Timestamp("2026-01-01", tz="UTC")
    runtime.write_table(log.iloc[::-1], "inference_logs", "marketing_churn_gbm_payload", mode="overwrite")
    spec = spec_for("dev")

    newest = deploy_job.logged_requests(spec, runtime, None, limit=5)
    expected = log.iloc[-5:][list(spec.model.data.features)].reset_index(drop=True)
    pd.testing.assert_frame_equal(newest, expected)


def test_fails_without_a_column_to_order_requests_by(tmp_path):
    from tests.ml_jobs.conftest import spec_for

    runtime = get_runtime("dev", root=tmp_path, environ={})
    runtime.write_table(generate_churn(5, seed=4).drop(columns=["event_ts"]), "inference_logs",
                        "marketing_churn_gbm_payload", mode="overwrite")
    with pytest.raises(BadInput, match="no column to tell the newest requests by"):
        deploy_job.logged_requests(spec_for("dev"), runtime, None, limit=5)
