"""A snapshot of one serving endpoint, and the few SDK calls a rollout makes.

Every call goes through ``databricks-sdk`` (``w.serving_endpoints``). Waiting is done here rather
than with the SDK's own waiter so that the timeout is the model spec's ``ready_timeout_seconds``, the
poll interval is ours, and the clock can be driven by tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service.serving import (
    Route,
    ServedEntityInput,
    ServingEndpointDetailed,
    TrafficConfig,
)

from ml_jobs import faults
from ml_jobs.errors import BadInput, InfraError, JobError
from ml_jobs.serving.names import served_entity_name, version_of

IN_PROGRESS, NOT_UPDATING, UPDATE_FAILED, UPDATE_CANCELED = (
    "IN_PROGRESS", "NOT_UPDATING", "UPDATE_FAILED", "UPDATE_CANCELED",
)
READY = "READY"
DEPLOYMENT_READY = "DEPLOYMENT_READY"

Split = Mapping[str, int]
"""Traffic per model version, e.g. ``{"3": 90, "4": 10}``; a version at 0 stays deployed (warm)."""


class UpdateFailed(JobError):
    """The endpoint rejected a config (``UPDATE_FAILED``/``UPDATE_CANCELED``); it keeps its active one."""

    exit_code = 1


class ReadyTimeout(InfraError):
    """The endpoint did not become ready in time; the update may still be running on Databricks."""


class EndpointMissing(InfraError):
    """The endpoint does not exist: the environment's stack creates it (``make deploy ENV=...``)."""


@dataclass(frozen=True)
class Compute:
    workload_size: str = "Small"
    scale_to_zero: bool = True


@dataclass(frozen=True)
class Served:
    name: str
    entity_name: str | None
    version: str | None
    traffic: int
    deployment: str | None
    workload_size: str | None = None
    scale_to_zero: bool | None = None


@dataclass(frozen=True)
class EndpointView:
    """What the endpoint serves right now (its active ``config``), and the state of any update."""

    name: str
    config_update: str | None
    ready: str | None
    served: tuple[Served, ...] = ()
    pending: tuple[Served, ...] = ()
    config_version: int | None = None

    @property
    def split(self) -> dict[str, int]:
        return {s.version: s.traffic for s in self.served if s.version is not None}

    def share(self, version: str) -> int:
        return self.split.get(version, 0)

    def entity(self, version: str) -> Served | None:
        return next((s for s in self.served if s.version == version), None)

    @property
    def settled(self) -> bool:
        """No update running: a new config may be sent."""
        return self.config_update != IN_PROGRESS

    @classmethod
    def from_sdk(cls, detail: ServingEndpointDetailed) -> EndpointView:
        state = detail.state
        return cls(
            name=detail.name or "",
            config_update=state.config_update.value if state and state.config_update else None,
            ready=state.ready.value if state and state.ready else None,
            served=_served(detail.config),
            pending=_served(detail.pending_config),
            config_version=detail.config.config_version if detail.config else None,
        )


def _served(config: Any) -> tuple[Served, ...]:
    if config is None or not config.served_entities:
        return ()
    routes = config.traffic_config.routes if config.traffic_config and config.traffic_config.routes else []
    traffic = {(r.served_entity_name or r.served_model_name): int(r.traffic_percentage or 0) for r in routes}
    out = []
    for e in config.served_entities:
        out.append(
            Served(
                name=e.name or "",
                entity_name=e.entity_name,
                version=e.entity_version or version_of(e.name or ""),
                traffic=traffic.get(e.name, 0),
                deployment=e.state.deployment.value if e.state and e.state.deployment else None,
                workload_size=e.workload_size,
                scale_to_zero=e.scale_to_zero_enabled,
            )
        )
    return tuple(out)


@dataclass
class ServingClient:
    """The rollout's only door to Databricks: get, update config, wait, metrics."""

    workspace: Any
    """A ``databricks.sdk.WorkspaceClient``."""
    model: str
    registered_name: str
    poll_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    calls: list[str] = field(default_factory=list)
    """Calls made, in order (for logs and the run report)."""

    @property
    def _api(self) -> Any:
        return self.workspace.serving_endpoints

    def view(self, endpoint: str) -> EndpointView:
        try:
            detail = self._api.get(endpoint)
        except NotFound as exc:
            raise EndpointMissing(
                f"serving endpoint {endpoint!r} not found: the environment's stack creates it "
                f"(make deploy ENV=...), then re-run deploy"
            ) from exc
        except DatabricksError as exc:
            raise InfraError(f"GET serving endpoint {endpoint!r} failed: {exc}") from exc
        self.calls.append(f"get {endpoint}")
        view = EndpointView.from_sdk(detail)
        self._refuse_foreign(view)
        return view

    def apply(self, endpoint: str, split: Split, compute: Compute, current: EndpointView) -> None:
        """PUT the config serving exactly the versions in ``split``; incumbents keep their compute."""
        entities = [self._entity(v, compute, current.entity(v)) for v in split]
        routes = [Route(served_entity_name=served_entity_name(self.model, v), traffic_percentage=int(p))
                  for v, p in split.items()]
        faults.boundary("serving.update_config")
        try:
            self._api.update_config(endpoint, served_entities=entities, traffic_config=TrafficConfig(routes))
        except DatabricksError as exc:
            raise InfraError(f"PUT config of endpoint {endpoint!r} ({dict(split)}) failed: {exc}") from exc
        self.calls.append(f"update_config {endpoint} {dict(split)}")

    def _entity(self, version: str, compute: Compute, incumbent: Served | None) -> ServedEntityInput:
        # Re-sending a served entity unchanged keeps it running; changing its size would redeploy it
        # in the middle of a rollout, so a version already served keeps the size it runs with.
        size = incumbent.workload_size if incumbent and incumbent.workload_size else compute.workload_size
        zero = (incumbent.scale_to_zero if incumbent and incumbent.scale_to_zero is not None
                else compute.scale_to_zero)
        return ServedEntityInput(
            name=served_entity_name(self.model, version),
            entity_name=self.registered_name,
            entity_version=str(version),
            workload_size=size,
            scale_to_zero_enabled=zero,
        )

    def wait_ready(self, endpoint: str, timeout_s: float, after_update: bool = True) -> EndpointView:
        """Poll until no update runs and the endpoint is READY; raise on a failed update or timeout.

        ``after_update=False`` when no config was sent: a failed *earlier* update left the active
        config in place, so ``UPDATE_FAILED`` then says nothing about it.
        """
        deadline = self.clock() + timeout_s
        while True:
            view = self.view(endpoint)
            if after_update and view.config_update in (UPDATE_FAILED, UPDATE_CANCELED):
                raise UpdateFailed(
                    f"serving endpoint {endpoint!r}: config update ended {view.config_update}; "
                    f"it keeps serving its active config {view.split}"
                )
            if view.settled and view.ready == READY:
                return view
            if self.clock() >= deadline:
                raise ReadyTimeout(
                    f"serving endpoint {endpoint!r} not ready after {timeout_s:g} s "
                    f"(config_update={view.config_update}, ready={view.ready}, serving {view.split}, "
                    f"pending {[s.version for s in view.pending]}); Databricks may still finish the "
                    f"update: re-run deploy to resume, or deploy --rollback once it settles"
                )
            self.sleep(min(self.poll_seconds, max(0.0, deadline - self.clock())))

    def wait_settled(self, endpoint: str, timeout_s: float) -> EndpointView:
        """Wait out an update some earlier (perhaps crashed) run started; a failed one is fine here."""
        deadline = self.clock() + timeout_s
        view = self.view(endpoint)
        while not view.settled:
            if self.clock() >= deadline:
                raise ReadyTimeout(
                    f"serving endpoint {endpoint!r} still updating after {timeout_s:g} s "
                    f"(an earlier deploy's update is running); re-run deploy once it settles"
                )
            self.sleep(min(self.poll_seconds, max(0.0, deadline - self.clock())))
            view = self.view(endpoint)
        return view

    def metrics(self, endpoint: str) -> str:
        """Prometheus text from ``GET /api/2.0/serving-endpoints/{name}/metrics``."""
        try:
            response = self._api.export_metrics(endpoint)
        except DatabricksError as exc:
            raise InfraError(f"metrics of serving endpoint {endpoint!r} unavailable: {exc}") from exc
        self.calls.append(f"export_metrics {endpoint}")
        body = response.contents.read() if response.contents is not None else b""
        return body.decode("utf-8") if isinstance(body, bytes) else str(body)

    def _refuse_foreign(self, view: EndpointView) -> None:
        foreign = [s.name for s in (*view.served, *view.pending)
                   if s.entity_name not in (None, self.registered_name) or s.version is None]
        if foreign:
            raise BadInput(
                f"serving endpoint {view.name!r} serves entities {foreign} that are not versions of "
                f"{self.registered_name}; deploy only manages endpoints that serve that model"
            )
