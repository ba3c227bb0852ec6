"""The failures issue 12 reproduced that are not a plain kill-and-rerun, each on real job runs
(``python -m ml_jobs.<job>`` on the local stores). Items 1, 4, 6 and 7 (duplicates, races,
orphans) are in ``test_kill_and_rerun`` and ``test_concurrency``; item 8 in ``test_data_checks``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlops_spec.exit_codes import EXIT_ALERT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_RETRAIN_PENDING

from . import harness as h
from .conftest import Worlds


def _rows(root: Path, table: str) -> list[dict]:
    from deltalake import DeltaTable

    path = root / "tables" / table.replace(".", "/")
    return DeltaTable(str(path)).to_pandas().to_dict("records") if (path / "_delta_log").is_dir() else []


def _state(root: Path) -> dict:
    rows = sorted(_rows(root, f"monitoring.{h.MODEL}_monitor_state"), key=lambda r: r["recorded_at"])
    return json.loads(rows[-1]["state"])


def _decisions(root: Path) -> list[str]:
    return [r["retrain_id"] for r in _rows(root, f"monitoring.{h.MODEL}_retrain_decisions")]


# -- 2: a refused trigger is no retraining --------------------------------------------------------------
def test_a_refused_retraining_stays_pending_and_the_next_monitor_starts_it(
    worlds: Worlds, tmp_path: Path
) -> None:
    from ml_jobs.runtime import get_runtime

    root = worlds.copy("production", tmp_path / "w")
    runtime = get_runtime("dev", root=root, catalog="mlops_dev", environ={})
    with runtime.exclusive(f"{h.MODEL}.retrain", 1):  # another retraining holds the model
        first = h.run_job("monitor", (), root, env={"MLOPS_LOCK_TIMEOUT_SECONDS": "0.5"})
    assert first.code == EXIT_RETRAIN_PENDING, first.err[-2000:]
    request = first.result()["retrain_request"]
    assert first.result()["retrain_pending"] and "held by another run" in first.result()["retrain_error"]
    state = _state(root)
    assert state["pending_request"] == request and state["last_retrain_at"] is None
    assert state["last_request"] is None and _decisions(root) == []  # nothing claims it ran

    second = h.expect_ok(h.run_job("monitor", (), root))
    assert second.result()["retrain_request"] == request
    assert _decisions(root) == [request]
    state = _state(root)
    assert state["pending_request"] is None and state["last_request"] == request and state["last_retrain_at"]
    assert h.violations(root) == []


# -- 3: a webhook that is down ---------------------------------------------------------------------------
@pytest.fixture
def broken_webhook() -> Iterator[tuple[str, list[str]]]:
    """A webhook answering 503 to every POST; the URL carries a canary token (a stand-in secret)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    canary = f"CANARY{uuid.uuid4().hex}"
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/{canary}?token={canary}", hits
    finally:
        server.shutdown()


def _files_containing(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_a_webhook_that_is_down_is_retried_then_recorded_and_blocks_nothing(
    worlds: Worlds, tmp_path: Path, broken_webhook: tuple[str, list[str]]
) -> None:
    url, hits = broken_webhook
    canary = url.rsplit("=", 1)[1]
    token = f"dapi{uuid.uuid4().hex}"
    env = {
        "MLOPS_WEBHOOK_URL": url,
        "MLOPS_WEBHOOK_ATTEMPTS": "3",
        "MLOPS_WEBHOOK_BACKOFF_SECONDS": "0.01",
        "MLOPS_LOG_LEVEL": "DEBUG",  # as chatty as it gets: a secret must not leak even here
        "DATABRICKS_TOKEN": token,
    }
    root = worlds.copy("production", tmp_path / "w")
    first = h.run_job("monitor", (), root, env=env)
    assert first.code == EXIT_ALERT_FAILED, first.err[-2000:]
    assert len(hits) == 3 and json.loads(hits[0])["alert_id"]  # retried, with an idempotency key
    result = first.result()
    assert result["alert"] == "failed" and "failed after 3 attempt(s): HTTP 503" in result["alert_error"]
    assert _decisions(root) == [result["retrain_request"]]  # retraining went ahead
    assert _state(root)["pending_request"] is None  # and the state was saved
    metrics = len(_rows(root, f"monitoring.{h.MODEL}_drift_metrics"))

    second = h.run_job("monitor", (), root, env=env)
    assert second.code == EXIT_OK, second.err[-2000:]
    assert len(_rows(root, f"monitoring.{h.MODEL}_drift_metrics")) == metrics  # nothing appended twice
    assert len(_decisions(root)) == 1 and len(hits) == 3
    for secret in (canary, token):
        for run in (first, second):
            assert secret not in run.out and secret not in run.err
        assert _files_containing(root, secret) == []  # not in MLflow, the tables, reports or logs
    assert h.violations(root) == []


# -- 5: a validation killed midway ---------------------------------------------------------------------
def test_a_revalidation_killed_midway_leaves_the_previous_record_whole(
    worlds: Worlds, tmp_path: Path
) -> None:
    from ml_jobs.registry import client as reg

    root = worlds.copy("promotable", tmp_path / "w")
    client = h._client(root)
    before = reg.record(client.get_model_version(h.NAME, "2"), reg.TAG_VALIDATION)
    assert before["status"] == "passed"
    strict = ("--set", "validation.min_roc_auc=0.99")
    killed = h.run_job("validate", strict, root, fault_at="registry.set_tag:validation@1")
    assert killed.killed  # after its report and model card, before its one record
    assert reg.record(client.get_model_version(h.NAME, "2"), reg.TAG_VALIDATION) == before

    refused = h.run_job("promote", strict, root)  # the record was made under other gates
    assert refused.code == EXIT_REFUSED and "validated under other gate settings" in refused.err
    assert h.expect_ok(h.run_job("validate", strict, root), (EXIT_REFUSED,))
    after = reg.record(client.get_model_version(h.NAME, "2"), reg.TAG_VALIDATION)
    assert (
        after["status"] == "failed"
        and after["failed"] == ["min_roc_auc"]
        and after["gates"]["min_roc_auc"] == "failed"
    )
    refused = h.run_job("promote", (), root)
    assert (
        refused.code == EXIT_REFUSED
        and "validation status is failed (failed gates: min_roc_auc)" in refused.err
    )
    assert reg.aliases(client, h.NAME)["champion"] == "1"


def test_legacy_dotted_tags_are_read_and_a_status_beside_a_failed_gate_is_failed(
    worlds: Worlds, tmp_path: Path
) -> None:
    """A store written by the earlier release: ``validation.status=passed`` next to a failed gate (the
    state a killed re-validation left) must not be promotable."""
    root = worlds.copy("promotable", tmp_path / "w")
    client = h._client(root)
    client.delete_model_version_tag(h.NAME, "2", "validation")
    legacy = {
        **{"validation.status": "passed", "validation.champion_version": "1", "validation.roc_auc": "0.9"},
        **{"validation.champion_roc_auc": "0.8", "gate.min_roc_auc": "failed", "gate.latency": "passed"},
    }
    for key, value in legacy.items():
        client.set_model_version_tag(h.NAME, "2", key, value)
    refused = h.run_job("promote", (), root)
    assert refused.code == EXIT_REFUSED
    assert "validation status is failed (failed gates: min_roc_auc)" in refused.err


# -- 7: a killed training's run ------------------------------------------------------------------------
def test_a_killed_training_leaves_no_running_run_once_the_next_job_starts(
    worlds: Worlds, tmp_path: Path
) -> None:
    root = worlds.copy("data", tmp_path / "w")
    killed = h.run_job("train", h.FAST_PARAMS, root, fault_at="registry.register_version@1")
    assert killed.killed
    assert len(h._running_runs(root)) == 1  # the killed process left its run RUNNING
    h.expect_ok(h.run_job("train", h.FAST_PARAMS, root))
    assert h._running_runs(root) == []
    client = h._client(root)
    statuses = sorted(
        r.info.status for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
    )
    assert statuses == ["FINISHED", "KILLED"]
    assert h.violations(root) == []


# -- 9: what serving answers is what the monitor reads ---------------------------------------------------
def test_the_served_model_answers_the_probability_and_the_label_the_inference_log_holds(
    worlds: Worlds, tmp_path: Path
) -> None:
    import mlflow
    import numpy as np

    from ml_jobs.training.pipeline import THRESHOLD

    root = worlds.copy("production", tmp_path / "w")
    log = __import__("pandas").DataFrame(_rows(root, f"inference_logs.{h.MODEL}_predictions")).head(200)
    # Both stores of the world: MLflow's default tracking store (./mlflow.db) is not this test's.
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{root / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model(f"models:/{h.NAME}@champion")  # what Model Serving loads
    features = [c for c in served.metadata.get_input_schema().input_names()]
    answer = served.predict(log[features])
    assert list(answer.columns) == ["score", "prediction"]
    assert served.metadata.get_output_schema().input_names() == ["score", "prediction"]
    assert np.allclose(answer["score"], log["score"]) and (answer["prediction"] == log["prediction"]).all()
    assert ((answer["score"] > 0) & (answer["score"] < 1)).all() and answer["score"].nunique() > 10
    assert (answer["prediction"] == (answer["score"] >= THRESHOLD)).all()
