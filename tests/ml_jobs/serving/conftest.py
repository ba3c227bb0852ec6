"""A fake Databricks serving-endpoints REST API on 127.0.0.1, and fixtures around it.

What it proves: the calls ``ml_jobs.serving`` makes through ``databricks-sdk`` (paths, methods,
payloads, their order), and how the rollout handles the documented endpoint states: an update is
``IN_PROGRESS`` until it becomes the active ``config`` (``NOT_UPDATING``) or is dropped
(``UPDATE_FAILED``, the previous config stays active); a second update while one runs is refused
(409); traffic must sum to 100 over served entities of the config.

What it does not prove: real Databricks behaviour beyond that shape (timings, cold starts, partial
failures, scale-to-zero), auth, network latency, or the real metric names and values.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient

from ml_jobs.serving.endpoint import ServingClient

PREFIX = "/api/2.0/serving-endpoints"
REGISTERED = "mlops_dev.models.marketing_churn_gbm"
MODEL = "marketing_churn_gbm"
ENDPOINT = "marketing-churn-gbm-dev"


def split_of(config: dict[str, Any] | None) -> dict[str, int]:
    """``{version: traffic}`` of a config body (input or output shape)."""
    if not config:
        return {}
    by_name = {e["name"]: e["entity_version"] for e in config.get("served_entities", [])}
    routes = config.get("traffic_config", {}).get("routes", [])
    traffic = {r.get("served_entity_name") or r["served_model_name"]: r["traffic_percentage"] for r in routes}
    return {v: traffic.get(n, 0) for n, v in by_name.items()}


@dataclass
class FakeEndpoint:
    name: str
    config: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None
    config_update: str = "NOT_UPDATING"
    polls_left: int = 0
    pending_fails: bool = False
    config_version: int = 0


@dataclass
class FakeServing:
    """In-memory endpoints; knobs decide how the next updates behave."""

    endpoints: dict[str, FakeEndpoint] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    ready_after_polls: int = 1
    """GETs an update stays IN_PROGRESS for (a big number = slow readiness beyond any timeout)."""
    fail_update: Callable[[dict[str, int]], bool] = lambda split: False
    """Decides from an update's ``{version: traffic}`` whether it ends UPDATE_FAILED."""
    server_errors: dict[str, int] = field(default_factory=dict)
    """Path suffix -> how many 500s to answer before answering normally."""
    metrics_text: Callable[[int], str] = lambda n: ""
    """Prometheus text for the n-th metrics call (0-based)."""
    metrics_calls: int = 0
    on_update: Callable[[int], None] = lambda n: None
    """Called with the 1-based number of each config PUT once it is accepted (tests kill a process)."""
    route_form: str = "entity"
    """How GET answers routes: ``entity`` (``served_entity_name``), ``model`` (``served_model_name``,
    the form of the documented responses: REST reference of ``GET /api/2.0/serving-endpoints/{name}``,
    ``Route`` in databricks-sdk ``service/serving.py``) or ``both``."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, split: dict[str, int] | None = None) -> None:
        ep = FakeEndpoint(name)
        if split:
            ep.config, ep.config_version = self._config(split, 1), 1
        self.endpoints[name] = ep

    # -- what tests assert on -----------------------------------------------------------------------
    def updates(self) -> list[dict[str, int]]:
        """Every config PUT, as ``{version: traffic}``, in order."""
        return [split_of(body) for method, path, body in self.requests if method == "PUT"]

    def calls(self) -> list[str]:
        return [f"{m} {p.removeprefix(PREFIX) or '/'}" for m, p, _ in self.requests]

    def serving(self, name: str = ENDPOINT) -> dict[str, int]:
        return split_of(self.endpoints[name].config)

    # -- state machine ------------------------------------------------------------------------------
    @staticmethod
    def _config(split: dict[str, int], version: int) -> dict[str, Any]:
        entities = [
            {
                "name": f"{MODEL.replace('_', '-')}-{v}",
                "entity_name": REGISTERED,
                "entity_version": v,
                "workload_size": "Small",
                "scale_to_zero_enabled": True,
            }
            for v in split
        ]
        routes = [
            {"served_entity_name": e["name"], "traffic_percentage": p}
            for e, p in zip(entities, split.values(), strict=True)
        ]
        return {"config_version": version, "served_entities": entities, "traffic_config": {"routes": routes}}

    def _poll(self, ep: FakeEndpoint) -> None:
        if ep.config_update != "IN_PROGRESS":
            return
        ep.polls_left -= 1
        if ep.polls_left > 0:
            return
        if ep.pending_fails:
            ep.config_update = "UPDATE_FAILED"
        else:
            ep.config, ep.config_update = ep.pending, "NOT_UPDATING"
        ep.pending = None

    def detail(self, ep: FakeEndpoint) -> dict[str, Any]:
        ready = "READY" if ep.config else "NOT_READY"
        body: dict[str, Any] = {"name": ep.name, "state": {"config_update": ep.config_update, "ready": ready}}
        if ep.config:
            body["config"] = _routes_as(_with_state(ep.config, "DEPLOYMENT_READY"), self.route_form)
        if ep.pending:
            pending = _with_state(ep.pending, "DEPLOYMENT_CREATING")
            body["pending_config"] = _routes_as(pending, self.route_form)
        return body

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if not path.startswith(PREFIX):  # e.g. the SDK's host-metadata probe: not a serving call
            return 404, {"error_code": "NOT_FOUND", "message": f"no fake for {path}"}
        with self.lock:
            self.requests.append((method, path, body))
            for suffix, left in self.server_errors.items():
                if path.endswith(suffix) and left > 0:
                    self.server_errors[suffix] = left - 1
                    return 500, {"error_code": "INTERNAL_ERROR", "message": "injected server error"}
            rest = path.removeprefix(PREFIX).strip("/").split("/")
            ep = self.endpoints.get(rest[0])
            if ep is None:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{rest[0]} not found"}
            if method == "GET" and len(rest) == 1:
                self._poll(ep)
                return 200, self.detail(ep)
            if method == "PUT" and rest[1:] == ["config"]:
                return self._update(ep, body)
            if method == "GET" and rest[1:] == ["metrics"]:
                self.metrics_calls += 1
                return 200, self.metrics_text(self.metrics_calls - 1)
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no fake for {method} {path}"}

    def _update(self, ep: FakeEndpoint, body: dict[str, Any]) -> tuple[int, Any]:
        if ep.config_update == "IN_PROGRESS":
            return 409, {"error_code": "RESOURCE_CONFLICT", "message": "an update is in progress"}
        names = {e["name"] for e in body.get("served_entities", [])}
        routes = body.get("traffic_config", {}).get("routes", [])
        if (
            not names
            or sum(r["traffic_percentage"] for r in routes) != 100
            or any(r["served_entity_name"] not in names for r in routes)
        ):
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad traffic config"}
        ep.config_version += 1
        ep.pending = {**body, "config_version": ep.config_version}
        ep.config_update, ep.polls_left = "IN_PROGRESS", self.ready_after_polls
        ep.pending_fails = self.fail_update(split_of(body))
        self.on_update(sum(1 for m, _, _ in self.requests if m == "PUT"))
        return 200, self.detail(ep)


def _with_state(config: dict[str, Any], deployment: str) -> dict[str, Any]:
    entities = [{**e, "state": {"deployment": deployment}} for e in config.get("served_entities", [])]
    return {**config, "served_entities": entities}


def _routes_as(config: dict[str, Any], form: str) -> dict[str, Any]:
    routes = []
    for r in config.get("traffic_config", {}).get("routes", []):
        name = r.get("served_entity_name") or r.get("served_model_name")
        names = {
            "entity": {"served_entity_name": name},
            "model": {"served_model_name": name},
            "both": {"served_entity_name": name, "served_model_name": name},
        }[form]
        routes.append({**names, "traffic_percentage": r["traffic_percentage"]})
    return {**config, "traffic_config": {"routes": routes}}


def _handler(fake: FakeServing) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, payload = fake.handle(self.command, self.path.split("?")[0], body)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@dataclass
class FakeClock:
    """Time that moves only when the code under test sleeps: timeouts are exact and instant."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_serving() -> Iterator[tuple[FakeServing, str]]:
    """A fresh fake and its base URL (``http://127.0.0.1:<port>``)."""
    with serving(FakeServing()) as served:
        yield served


@contextmanager
def serving(fake: FakeServing) -> Iterator[tuple[FakeServing, str]]:
    """``fake`` answering on 127.0.0.1 until the block ends, and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def workspace(fake_serving: tuple[FakeServing, str]) -> WorkspaceClient:
    _, url = fake_serving
    return WorkspaceClient(host=url, token="x", auth_type="pat")


@pytest.fixture
def fake(fake_serving: tuple[FakeServing, str]) -> FakeServing:
    return fake_serving[0]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def new_client(workspace: WorkspaceClient, clock: FakeClock) -> Callable[[], ServingClient]:
    """A fresh ``ServingClient`` per call: a second deploy process after a crash has no memory."""

    def make() -> ServingClient:
        return ServingClient(workspace, MODEL, REGISTERED, poll_seconds=5.0, sleep=clock.sleep, clock=clock)

    return make


# -- a local registry for the entry point -----------------------------------------------------------
@pytest.fixture(scope="session")
def registry_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local project folder whose SQLite registry holds versions 1-3 of the model (no artifacts:
    canary and blue-green only need the version numbers; Databricks loads the model itself)."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("deploy-root")
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    client.create_registered_model(REGISTERED)
    for _ in range(3):
        client.create_model_version(REGISTERED, source=str(root / "no-artifacts"))
    return root


@pytest.fixture
def set_aliases(registry_root: Path) -> Callable[..., None]:
    """``set_aliases(champion="2", previous_champion="1")``: exactly these aliases, the rest removed."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{registry_root / 'mlflow.db'}")

    def set_(**aliases: str) -> None:
        for alias in ("champion", "challenger", "previous_champion"):
            client.delete_registered_model_alias(REGISTERED, alias)
        for alias, version in aliases.items():
            client.set_registered_model_alias(REGISTERED, alias, version)

    return set_


@pytest.fixture
def deploy_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient Databricks or MLflow settings: the test decides where deploy points."""
    for key in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "DATABRICKS_RUNTIME_VERSION",
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CONFIG_PROFILE",
        "MLOPS_CONFIG_DIR",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setenv("MLOPS_TRACKING_RETRIES", "1")
