"""Webhook alerts and the Databricks retraining trigger, against HTTP servers on 127.0.0.1.

What the trigger tests prove: the installed databricks-sdk sends ``GET /api/2.2/jobs/list?name=...``
and ``POST /api/2.2/jobs/run-now`` with our job id and idempotency token, our code picks the job by
exact name, retries a 500 with the same token, and turns 404 / unknown job into ``AlertError``.
What they do not prove: that a real workspace accepts the token, the job exists, or the run succeeds;
the fake server only mimics the documented response shapes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from ml_jobs.monitoring.sinks import AlertError, post_webhook, trigger_databricks_job


class FakeServer:
    """Answers from a script of (status, body) per path; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.script: dict[str, list[tuple[int, dict]]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else dict(parse_qs(url.query))
                outer.requests.append((self.command, url.path, body))
                queue = outer.script.get(
                    url.path, [(404, {"error_code": "NOT_FOUND", "message": "no route"})]
                )
                status, payload = queue.pop(0) if len(queue) > 1 else queue[0]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.httpd.shutdown()


def _client(server: FakeServer):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    config = Config(host=server.url, token="test-token", retry_timeout_seconds=5)
    return WorkspaceClient(config=config)


JOBS = {
    "jobs": [
        {"job_id": 7, "settings": {"name": "marketing_churn_gbm-retrain"}},
        {"job_id": 8, "settings": {"name": "marketing_churn_gbm-retrain-old"}},
    ],
    "has_more": False,
}


def test_webhook_posts_the_alert_as_json(server: FakeServer) -> None:
    server.script["/hook"] = [(200, {"ok": True})]
    assert post_webhook(server.url + "/hook", {"model": "m", "drifted": ["x"]}) == 200
    assert server.requests == [("POST", "/hook", {"model": "m", "drifted": ["x"]})]


def test_fails_webhook_on_server_error(server: FakeServer) -> None:
    server.script["/hook"] = [(500, {})]
    with pytest.raises(AlertError, match="HTTP 500"):
        post_webhook(server.url + "/hook", {"a": 1})


def test_trigger_finds_the_job_by_name_and_runs_it(server: FakeServer) -> None:
    server.script["/api/2.2/jobs/list"] = [(200, JOBS)]
    server.script["/api/2.2/jobs/run-now"] = [(200, {"run_id": 4242})]
    run_id = trigger_databricks_job(
        _client(server), "marketing_churn_gbm-retrain", "tok-1", {"reason": "drift"}
    )
    assert run_id == 4242
    (_, _, listed), (_, _, run) = [r for r in server.requests if r[1].startswith("/api/")]
    assert listed["name"] == ["marketing_churn_gbm-retrain"]
    assert run == {"job_id": 7, "idempotency_token": "tok-1", "job_parameters": {"reason": "drift"}}


def test_trigger_retries_a_server_error_with_the_same_token(server: FakeServer) -> None:
    server.script["/api/2.2/jobs/list"] = [(200, JOBS)]
    server.script["/api/2.2/jobs/run-now"] = [
        (500, {"error_code": "INTERNAL_ERROR", "message": "boom"}),
        (200, {"run_id": 1}),
    ]
    assert (
        trigger_databricks_job(_client(server), "marketing_churn_gbm-retrain", "tok-2", backoff_seconds=0)
        == 1
    )
    tokens = [body["idempotency_token"] for _, path, body in server.requests if path.endswith("run-now")]
    assert tokens == ["tok-2", "tok-2"]


def test_fails_trigger_when_run_now_answers_404(server: FakeServer) -> None:
    server.script["/api/2.2/jobs/list"] = [(200, JOBS)]
    server.script["/api/2.2/jobs/run-now"] = [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"})
    ]
    with pytest.raises(AlertError, match="not found"):
        trigger_databricks_job(_client(server), "marketing_churn_gbm-retrain", "tok-3", backoff_seconds=0)


def test_fails_trigger_when_no_job_has_the_name(server: FakeServer) -> None:
    server.script["/api/2.2/jobs/list"] = [(200, {"jobs": [], "has_more": False})]
    with pytest.raises(AlertError, match="not found in the workspace"):
        trigger_databricks_job(_client(server), "missing-job", "tok-4")
    assert not any(path.endswith("run-now") for _, path, _ in server.requests)
