"""Connect to the tracking server and registry the runtime names, with bounded retries.

MLflow retries HTTP calls itself (7 times with exponential backoff by default: minutes). The probe
here caps those retries so an unreachable server fails within seconds with exit code 3, before a
run, a model version or an alias exists.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Experiment

from ml_jobs.errors import InfraError
from ml_jobs.runtime import Runtime, artifact_location

log = logging.getLogger(__name__)

RETRIES_ENV = "MLOPS_TRACKING_RETRIES"
BACKOFF_ENV = "MLOPS_TRACKING_BACKOFF_SECONDS"

# Aliases and tags: the registry is the record of lineage, gates, approvals and promotions.
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"
TAG_IDEMPOTENCY = "idempotency_key"
TAG_DATA_TABLE = "data.table"
TAG_DATA_VERSION = "data.version"
TAG_CONFIG_HASH = "config_hash"
TAG_GIT_COMMIT = "git_commit"
TAG_REGISTERED_VERSION = "registered_version"
TAG_VALIDATION = "validation.status"


@contextmanager
def _capped_http_retries(retries: int, timeout_s: int) -> Iterator[None]:
    keys = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries), "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s)}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _use_stores(runtime: Runtime) -> None:
    """Point MLflow's fluent API at the runtime's stores without touching ``os.environ``.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (for subprocesses); left there,
    it would override the next runtime's own choice in this process (e.g. dev, then prod in a demo).
    """
    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {k: os.environ.get(k) for k in keys}
    mlflow.set_tracking_uri(runtime.tracking_uri)
    mlflow.set_registry_uri(runtime.registry_uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def connect(runtime: Runtime, attempts: int | None = None, backoff_s: float | None = None) -> MlflowClient:
    """Point MLflow at the runtime's stores and check they answer (``attempts`` tries, backoff doubling)."""
    attempts = attempts if attempts is not None else int(os.environ.get(RETRIES_ENV, "4"))
    backoff_s = backoff_s if backoff_s is not None else float(os.environ.get(BACKOFF_ENV, "2"))
    _use_stores(runtime)
    client = MlflowClient(runtime.tracking_uri, runtime.registry_uri)
    last: Exception | None = None
    for attempt in range(max(1, attempts)):
        try:
            with _capped_http_retries(retries=0, timeout_s=10):
                client.search_experiments(max_results=1)
            return client
        except Exception as exc:  # any transport or server error counts as "not reachable yet"
            last = exc
            log.warning(
                "tracking server %s not reachable (attempt %d/%d): %s",
                runtime.tracking_uri,
                attempt + 1,
                attempts,
                exc,
            )
            if attempt + 1 < attempts:
                time.sleep(backoff_s * 2**attempt)
    raise InfraError(
        f"MLflow tracking server {runtime.tracking_uri} unreachable after {attempts} attempts: {last}. "
        f"Nothing was changed in the registry. Check MLFLOW_TRACKING_URI / the workspace, then re-run."
    )


def experiment(client: MlflowClient, runtime: Runtime, name: str) -> Experiment:
    """The experiment (the stacks create it on Databricks; locally it is created with local artifacts)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found
    experiment_id = client.create_experiment(name, artifact_location=artifact_location(runtime))
    return client.get_experiment(experiment_id)


def version_by_alias(client: MlflowClient, name: str, alias: str):  # -> ModelVersion | None
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
