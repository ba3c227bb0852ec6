"""What the inventory reads about models: the registry through MLflow, owners and endpoints through the SDK.

* ``MlflowRegistry`` lists the registered models of one schema and their versions, aliases and tags,
  and sets registered-model tags. MLflow speaks to Unity Catalog (registry URI ``databricks-uc``) and
  to the local SQLite registry alike; the UC store takes no ``filter_string`` when searching models
  (mlflow/store/_unity_catalog/registry/rest_store.py), so the schema is selected by name prefix.
* ``DatabricksWorkspace`` asks the workspace what MLflow does not expose: a model's owner
  (``registered_models.get``) and a serving endpoint's state (``serving_endpoints.get``).
* ``LocalWorkspace`` answers for one machine: no owners, no endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class VersionFacts:
    version: str
    created_at: datetime | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelFacts:
    full_name: str
    tags: dict[str, str]
    aliases: dict[str, str]
    """Alias -> version."""
    versions: tuple[VersionFacts, ...]

    def version(self, number: str | None) -> VersionFacts | None:
        return next((v for v in self.versions if v.version == number), None)


class Registry(Protocol):
    def list_models(self, prefix: str) -> list[str]: ...
    def model(self, full_name: str) -> ModelFacts: ...
    def set_tag(self, full_name: str, key: str, value: str) -> None: ...


class Workspace(Protocol):
    def owner(self, full_name: str) -> str | None: ...
    def endpoint_state(self, name: str) -> str: ...


def _when(millis: Any) -> datetime | None:
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC) if millis else None


class MlflowRegistry:
    """Registered models under a name prefix (``<catalog>.models.``), through an ``MlflowClient``."""

    def __init__(self, client: Any, page_size: int = 100) -> None:
        self.client = client
        self.page_size = page_size

    def list_models(self, prefix: str) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = self.client.search_registered_models(max_results=self.page_size, page_token=token)
            names += [m.name for m in page if m.name.startswith(prefix)]
            token = getattr(page, "token", None)
            if not token:
                return sorted(names)

    def model(self, full_name: str) -> ModelFacts:
        registered = self.client.get_registered_model(full_name)
        versions = self.client.search_model_versions(f"name='{full_name}'")
        return ModelFacts(
            full_name,
            dict(registered.tags or {}),
            {alias: str(v) for alias, v in (registered.aliases or {}).items()},
            tuple(
                sorted(
                    (
                        VersionFacts(str(v.version), _when(v.creation_timestamp), dict(v.tags or {}))
                        for v in versions
                    ),
                    key=lambda v: int(v.version),
                )
            ),
        )

    def set_tag(self, full_name: str, key: str, value: str) -> None:
        self.client.set_registered_model_tag(full_name, key, value)


class LocalWorkspace:
    """One machine: the SQLite registry records no owner and nothing is served."""

    def owner(self, full_name: str) -> str | None:
        return None

    def endpoint_state(self, name: str) -> str:
        return "not deployed (local run)"


class DatabricksWorkspace:
    """Owners and endpoint states from the workspace APIs (databricks-sdk ``WorkspaceClient``)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def owner(self, full_name: str) -> str | None:
        from databricks.sdk.errors import NotFound

        try:
            owner: str | None = self.client.registered_models.get(full_name).owner
            return owner
        except NotFound:
            return None

    def endpoint_state(self, name: str) -> str:
        """``READY``, ``NOT_READY (UPDATE_FAILED)``... or ``missing`` (sdk serving.EndpointState)."""
        from databricks.sdk.errors import NotFound

        try:
            state = self.client.serving_endpoints.get(name).state
        except NotFound:
            return "missing"
        if state is None or state.ready is None:
            return "unknown"
        ready = state.ready.value
        update = state.config_update.value if state.config_update is not None else None
        return ready if update in (None, "NOT_UPDATING") else f"{ready} ({update})"
