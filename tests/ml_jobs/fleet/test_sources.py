"""What the inventory asks the workspace, at the HTTP boundary: a local server on 127.0.0.1 answering the
REST paths databricks-sdk calls for a registered model's owner and a serving endpoint's state.

Proves: the paths the SDK calls, how the answers (and a missing model or endpoint) become inventory
values, and that a transient 503 is retried by the SDK rather than failing the job. Does not prove:
Unity Catalog's own filtering of what a principal may read, or real latencies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient

from ml_jobs.fleet.sources import DatabricksWorkspace

MODEL = "mlops_prod.models.marketing_churn_gbm"
ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    f"/api/2.1/unity-catalog/models/{MODEL}": (200, {"full_name": MODEL, "owner": "mlops-model-owners-prod"}),
    "/api/2.0/serving-endpoints/churn-prod": (
        200,
        {"name": "churn-prod", "state": {"ready": "READY", "config_update": "NOT_UPDATING"}},
    ),
    "/api/2.0/serving-endpoints/churn-rollout": (
        200,
        {"name": "churn-rollout", "state": {"ready": "NOT_READY", "config_update": "UPDATE_FAILED"}},
    ),
}


@pytest.fixture
def server() -> Iterator[tuple[str, list[str], dict[str, int]]]:
    calls: list[str] = []
    unavailable: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            calls.append(path)
            if unavailable.get(path, 0) > 0:
                unavailable[path] -= 1
                status, body = 503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected"}
            else:
                status, body = ANSWERS.get(
                    path, (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{path} not found"})
                )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", calls, unavailable
    finally:
        httpd.shutdown()
        httpd.server_close()


def workspace(url: str) -> DatabricksWorkspace:
    return DatabricksWorkspace(WorkspaceClient(host=url, token="x", auth_type="pat"))


def test_owners_and_endpoint_states_come_from_the_workspace(server: tuple[str, list[str], dict]) -> None:
    url, calls, _ = server
    ws = workspace(url)
    assert ws.owner(MODEL) == "mlops-model-owners-prod"
    assert ws.endpoint_state("churn-prod") == "READY"
    assert ws.endpoint_state("churn-rollout") == "NOT_READY (UPDATE_FAILED)"
    assert f"/api/2.1/unity-catalog/models/{MODEL}" in calls
    assert "/api/2.0/serving-endpoints/churn-prod" in calls


def test_a_missing_model_or_endpoint_is_reported_not_raised(server: tuple[str, list[str], dict]) -> None:
    url, _, _ = server
    ws = workspace(url)
    assert ws.owner("mlops_prod.models.gone") is None
    assert ws.endpoint_state("never-deployed") == "missing"


def test_a_transient_503_is_retried_by_the_sdk(server: tuple[str, list[str], dict]) -> None:
    url, calls, unavailable = server
    path = "/api/2.0/serving-endpoints/churn-prod"
    unavailable[path] = 1
    assert workspace(url).endpoint_state("churn-prod") == "READY"
    assert calls.count(path) == 2
