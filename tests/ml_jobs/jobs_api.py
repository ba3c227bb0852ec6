"""A local Databricks Jobs API (plus one Unity Catalog model read and SCIM ``Me``) on 127.0.0.1.

Failures on demand.

It answers the REST paths databricks-sdk calls for ``jobs.list``, ``jobs.run_now``, ``jobs.get_run``,
``jobs.cancel_run`` and ``registered_models.get``, in the shapes of the SDK's dataclasses
(``databricks/sdk/service/jobs.py``, ``catalog.py``). Documented rules it keeps: ``run-now`` with an
idempotency token already used returns that run instead of starting another (``jobs.run_now``
docstring); ``only`` runs just the listed task keys; a run's tasks run in order and a failed task's
downstream tasks end ``UPSTREAM_FAILED``; a cancelled run ends ``TERMINATED``/``CANCELED``.

Knobs inject what a test needs: a task that fails, runs that never finish, 500s on a path.
What it does not prove: real scheduling, clusters, queueing, timings or auth.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

JOBS = "/api/2.2/jobs"
MODELS = "/api/2.1/unity-catalog/models/"
ME = "/api/2.0/preview/scim/v2/Me"
"""``current_user.me`` (databricks-sdk ``CurrentUserAPI.me``): who the caller is, with their groups."""


@dataclass
class FakeRun:
    run_id: int
    job_id: int
    tasks: list[str]
    token: str | None
    job_parameters: dict[str, str]
    only: list[str] | None
    polls: int = 0
    cancelled: bool = False


@dataclass
class FakeJobsApi:
    jobs: dict[int, tuple[str, list[str]]] = field(default_factory=dict)
    """job id -> (name, task keys in order)."""
    champions: dict[str, str] = field(default_factory=dict)
    """Registered model full name -> the version the ``champion`` alias points to."""
    polls_per_task: int = 1
    """``runs/get`` calls each task stays RUNNING for."""
    failing_tasks: dict[tuple[str, str], str] = field(default_factory=dict)
    """(job name, task key) -> the error message the task fails with."""
    never_ending: set[str] = field(default_factory=set)
    """Job names whose runs stay RUNNING until cancelled."""
    server_errors: dict[str, int] = field(default_factory=dict)
    """Path (``/run-now``, ``/runs/get``, ...) -> how many 500s to answer before answering normally."""
    me: dict[str, Any] | None = None
    """The caller's SCIM ``User`` (``userName``, ``displayName``, ``groups: [{display, value}]``);
    None answers 401 like a workspace that does not know the token."""
    runs: dict[int, FakeRun] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_job(self, job_id: int, name: str, tasks: list[str]) -> None:
        self.jobs[job_id] = (name, tasks)

    def started(self) -> list[FakeRun]:
        return sorted(self.runs.values(), key=lambda r: r.run_id)

    def posts(self, suffix: str) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if method == "POST" and path.endswith(suffix)]

    # -- the state of a run, derived from how often it was read ---------------------------------------
    def _run_json(self, run: FakeRun) -> dict[str, Any]:
        """Tasks run one after another, each for ``polls_per_task`` reads of the run."""
        name = self.jobs[run.job_id][0]
        keys = [k for k in run.tasks if run.only is None or k in run.only]
        finished = 0 if name in self.never_ending else run.polls // self.polls_per_task
        tasks, failed = [], False
        for i, key in enumerate(keys):
            if failed:
                tasks.append(_task(key, "TERMINATED", "UPSTREAM_FAILED", "an upstream task failed"))
            elif i >= finished:
                if run.cancelled:
                    tasks.append(_task(key, "TERMINATED", "CANCELED", "run cancelled"))
                else:
                    tasks.append(_task(key, "RUNNING" if i == finished else "PENDING", None))
            elif (name, key) in self.failing_tasks:
                tasks.append(_task(key, "TERMINATED", "FAILED", self.failing_tasks[(name, key)]))
                failed = True
            else:
                tasks.append(_task(key, "TERMINATED", "SUCCESS"))
        if run.cancelled and not failed and finished < len(keys):
            life, result = "TERMINATED", "CANCELED"
        elif not failed and finished < len(keys):
            life, result = "RUNNING", None
        else:
            life, result = "TERMINATED", "FAILED" if failed else "SUCCESS"
        state = {"life_cycle_state": life, **({"result_state": result} if result else {})}
        return {
            "run_id": run.run_id,
            "job_id": run.job_id,
            "run_page_url": f"https://workspace.example/jobs/{run.job_id}/runs/{run.run_id}",
            "state": state,
            "tasks": tasks,
        }

    # -- requests -------------------------------------------------------------------------------------
    def handle(self, method: str, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parsed = urlparse(url)
        path, query = parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()}
        with self.lock:
            self.requests.append((method, path, body))
            suffix = path.removeprefix(JOBS)
            if self.server_errors.get(suffix, 0) > 0:
                self.server_errors[suffix] -= 1
                return 500, {"error_code": "INTERNAL_ERROR", "message": f"injected failure of {suffix}"}
            if method == "GET" and path == ME:
                if self.me is None:
                    return 401, {"error_code": "UNAUTHENTICATED", "message": "invalid access token"}
                return 200, self.me
            if method == "GET" and suffix == "/list":
                name = query.get("name")
                found = [
                    {"job_id": i, "settings": {"name": n}} for i, (n, _) in self.jobs.items() if n == name
                ]
                return 200, {"jobs": found, "has_more": False}
            if method == "POST" and suffix == "/run-now":
                return 200, self._run_now(body)
            if method == "GET" and suffix == "/runs/get":
                run = self.runs.get(int(query["run_id"]))
                if run is None:
                    return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such run"}
                run.polls += 1
                return 200, self._run_json(run)
            if method == "POST" and suffix == "/runs/cancel":
                self.runs[int(body["run_id"])].cancelled = True
                return 200, {}
            if method == "GET" and path.startswith(MODELS):
                full_name = unquote(path.removeprefix(MODELS))
                if full_name not in self.champions:
                    return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{full_name} not found"}
                aliases = [{"alias_name": "champion", "version_num": int(self.champions[full_name])}]
                return 200, {"full_name": full_name, "aliases": aliases}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"{method} {path} is not faked"}

    def _run_now(self, body: dict[str, Any]) -> dict[str, Any]:
        job_id = int(body["job_id"])
        if job_id not in self.jobs:
            raise KeyError(job_id)
        token = body.get("idempotency_token")
        for run in self.runs.values():
            if token is not None and run.token == token:
                return {"run_id": run.run_id, "number_in_job": run.run_id}
        run_id = 1000 + len(self.runs)
        self.runs[run_id] = FakeRun(
            run_id,
            job_id,
            list(self.jobs[job_id][1]),
            token,
            dict(body.get("job_parameters") or {}),
            body.get("only"),
        )
        return {"run_id": run_id, "number_in_job": run_id}


def _task(key: str, life: str, result: str | None, message: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {"life_cycle_state": life}
    if result:
        state["result_state"] = result
    if message:
        state["state_message"] = message
    return {"task_key": key, "state": state}


def _handler(api: FakeJobsApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            status, payload = api.handle(method, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

    return Handler


@contextmanager
def serve(api: FakeJobsApi) -> Iterator[Any]:
    """A ``WorkspaceClient`` talking to ``api`` on 127.0.0.1 (PAT auth, the SDK's own retries short)."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_port}"
        config = Config(host=host, token="test", auth_type="pat", retry_timeout_seconds=5)
        yield WorkspaceClient(config=config)
    finally:
        server.shutdown()
        server.server_close()
