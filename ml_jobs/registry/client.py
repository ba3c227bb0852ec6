"""The registry and tracking server: connecting, the tag scheme, and every call that changes them.

Every registry write the jobs make (register or delete a version, set or delete a tag or an
alias, set a description, log an artifact, start or close a run) is a function here, and each is
a fault-injection boundary (``ml_jobs.faults``). Reads may use the ``MlflowClient`` directly.

Connecting: MLflow retries HTTP calls itself (7 times with exponential backoff by default:
minutes). ``connect`` caps those retries so an unreachable server fails within seconds with exit
code 3, before a run, a model version or an alias exists.

Tags follow Unity Catalog's rules for model-version tags (Databricks, "Apply tags to Unity Catalog
securable objects"): keys without ``. , - = / :``, at most 255 characters; values at most 1000
characters; at most 50 tags per object. Every record a job writes (validation, approval,
promotion, rollback, retraining) is ONE tag holding compact JSON, so it changes atomically. Tags
of the earlier dotted scheme (``data.table``, ``validation.status``, ``gate.*``, ``approval.*``,
...) are still read from an existing store (``tag``, ``record``); they are never written.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Experiment, Run
from mlflow.entities.model_registry import ModelVersion

from ml_jobs import faults
from ml_jobs.errors import BadInput, InfraError
from ml_jobs.runtime import Runtime, artifact_location

log = logging.getLogger(__name__)

# Aliases: the registry is the record of lineage, gates, approvals and promotions.
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"

# Model-version tags (Unity Catalog-valid keys).
TAG_DATA_TABLE = "data_table"
TAG_DATA_VERSION = "data_version"
TAG_CONFIG_HASH = "config_hash"
TAG_GIT_COMMIT = "git_commit"
TAG_IDEMPOTENCY = "idempotency_key"
TAG_SOURCE_RUN = "source_run_id"
TAG_VALIDATION = "validation"
TAG_APPROVAL = "approval"
TAG_PROMOTION = "promotion"
TAG_ROLLBACK = "rollback"
TAG_RETRAIN = "retrain"
TAG_TRAINED_BY = "trained_by"
"""Who trained the version (the authenticated identity of the training run): it may not approve it."""
# ``approval`` is read for versions approved before the chain; each chain step is ``approval_<n>``.
RECORDS = (TAG_VALIDATION, TAG_APPROVAL, TAG_PROMOTION, TAG_ROLLBACK, TAG_RETRAIN)
LEGACY_TAGS = {TAG_DATA_TABLE: "data.table", TAG_DATA_VERSION: "data.version"}
"""New key -> the dotted key an earlier release wrote (read, never written)."""

# Run tags (MLflow runs are not Unity Catalog securables; the same keys are used for clarity).
RUN_TAG_REGISTERED_VERSION = "registered_version"
RUN_TAG_REQUEST = "retrain_request"
"""On a training run started by a retraining: the request it trains for."""
RUN_TAG_OVERRIDES = "overrides"
"""The accepted ``--set`` overrides of the run, one JSON object (``{"training.n_trials": 3}``)."""
RUN_TAG_HOST, RUN_TAG_PID, RUN_TAG_PID_START = "mlops_host", "mlops_pid", "mlops_pid_start"

UC_TAG_FORBIDDEN = set(".,-=/:")
UC_TAG_KEY_MAX, UC_TAG_VALUE_MAX, UC_TAGS_MAX = 255, 1000, 50


# -- the tag scheme -----------------------------------------------------------------------------------
def check_tags(tags: Mapping[str, str], existing: Mapping[str, str] | None = None) -> None:
    """BadInput when a tag would break a Unity Catalog rule (so it fails here, not on a workspace)."""
    for key, value in tags.items():
        bad = sorted(UC_TAG_FORBIDDEN & set(key))
        if bad or not key or len(key) > UC_TAG_KEY_MAX:
            raise BadInput(
                f"tag key {key!r} is not valid in Unity Catalog: at most {UC_TAG_KEY_MAX} characters, "
                f"none of . , - = / : (found {' '.join(bad) or 'a length problem'})"
            )
        if len(str(value)) > UC_TAG_VALUE_MAX:
            raise BadInput(
                f"tag {key!r} is {len(str(value))} characters long; Unity Catalog allows at most "
                f"{UC_TAG_VALUE_MAX}"
            )
    if existing is not None and len(set(existing) | set(tags)) > UC_TAGS_MAX:
        raise BadInput(f"a model version may carry at most {UC_TAGS_MAX} tags in Unity Catalog")


def tag(mv: ModelVersion, key: str) -> str | None:
    """A tag of the current scheme, else the dotted tag an earlier release wrote for it."""
    tags = mv.tags or {}
    if key in tags:
        return tags[key]
    legacy = LEGACY_TAGS.get(key)
    return tags.get(legacy) if legacy else None


def encode(record: Mapping[str, Any]) -> str:
    """Compact JSON (a tag value): ``None`` values are dropped, floats stay as given."""
    return json.dumps(
        {k: v for k, v in record.items() if v is not None}, separators=(",", ":"), sort_keys=True
    )


def record(mv: ModelVersion, kind: str) -> dict[str, Any] | None:
    """The JSON record ``kind`` (validation, approval, ...) of a version, or None.

    A version recorded by an earlier release has dotted tags instead (``validation.status``,
    ``gate.<name>``, ``approval.by``, ...); they are assembled into the same shape, and a legacy
    validation whose gates disagree with its status counts as failed (the old scheme wrote them
    one by one, so a killed run could leave them inconsistent).
    """
    tags = mv.tags or {}
    raw = tags.get(kind)
    if raw is not None:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return {"status": "unreadable", "raw": raw[:100]}
        return value if isinstance(value, dict) else {"status": "unreadable"}
    prefix = f"{kind}."
    legacy: dict[str, Any] = {k.removeprefix(prefix): v for k, v in tags.items() if k.startswith(prefix)}
    if not legacy:
        return None
    legacy["legacy"] = True
    if kind == TAG_VALIDATION:
        gates = {k.removeprefix("gate."): v for k, v in tags.items() if k.startswith("gate.")}
        legacy["gates"] = gates
        legacy["failed"] = sorted(g for g, s in gates.items() if s == "failed")
        if legacy["failed"] and legacy.get("status") == "passed":
            legacy["status"] = "failed"
    return legacy


# -- connecting -----------------------------------------------------------------------------------------
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


def _store_problem(exc: BaseException) -> str | None:
    """What is wrong with a local store, when the error says (locked, corrupt), else None."""
    text = str(exc)
    if "database is locked" in text:
        return "the store is locked by another process"
    if "file is not a database" in text or "database disk image is malformed" in text:
        return "the store file is corrupt (not a readable SQLite database)"
    return None


def connect(runtime: Runtime, attempts: int | None = None, backoff_s: float | None = None) -> MlflowClient:
    """Point MLflow at the runtime's stores and check they answer (``attempts`` tries, backoff doubling)."""
    attempts = attempts if attempts is not None else runtime.settings.tracking_retries
    backoff_s = backoff_s if backoff_s is not None else runtime.settings.tracking_backoff_seconds
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
                str(exc).splitlines()[0][:300],
            )
            if _store_problem(exc) and "corrupt" in (_store_problem(exc) or ""):
                break  # a corrupt file does not heal by waiting
            if attempt + 1 < attempts:
                time.sleep(backoff_s * 2**attempt)
    problem = _store_problem(last) if last else None
    raise InfraError(
        f"MLflow tracking server {runtime.tracking_uri} {'unusable' if problem else 'unreachable'} after "
        f"{attempts} attempts: "
        f"{problem or str(last).splitlines()[0][:300]}. Nothing was changed in the registry. "
        f"Check MLFLOW_TRACKING_URI / the workspace / the local store, then re-run."
    )


# -- runs ------------------------------------------------------------------------------------------------
def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (``/proc/<pid>/stat`` field 22): tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _liveness_tags() -> dict[str, str]:
    pid = os.getpid()
    return {
        RUN_TAG_HOST: socket.gethostname(),
        RUN_TAG_PID: str(pid),
        RUN_TAG_PID_START: _process_start(pid) or "",
    }


def _alive(run: Run, max_age_s: float) -> bool:
    """Whether the process that started a RUNNING run may still be running it."""
    tags: dict[str, str] = run.data.tags
    if tags.get(RUN_TAG_HOST) == socket.gethostname() and tags.get(RUN_TAG_PID, "").isdigit():
        pid = int(tags[RUN_TAG_PID])
        return _process_start(pid) is not None and _process_start(pid) == (
            tags.get(RUN_TAG_PID_START) or None
        )
    # Another machine (a job cluster): the job's timeout bounds how long its process can live.
    started_ms: int = run.info.start_time
    return (time.time() * 1000 - started_ms) / 1000 < max_age_s


def close_stale_runs(client: MlflowClient, experiment_id: str, max_age_s: float) -> list[str]:
    """Mark RUNNING runs whose process is gone as KILLED (with their nested runs); their ids.

    A run is started by this package with its host, pid and the pid's start time as tags; on the
    same host a dead (or reused) pid means a killed job. A run from another host is stale once it
    is older than ``max_age_s`` (the job timeout: Databricks ends the job by then).
    """
    running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'", max_results=1000)
    parents = {r.info.run_id: r for r in running if "mlflow.parentRunId" not in r.data.tags}
    stale = {rid for rid, r in parents.items() if r.data.tags.get(RUN_TAG_PID) and not _alive(r, max_age_s)}
    children = [r.info.run_id for r in running if r.data.tags.get("mlflow.parentRunId") in stale]
    closed = []
    for run_id in [*children, *sorted(stale)]:
        faults.boundary("registry.close_run")
        client.set_terminated(run_id, status="KILLED")
        closed.append(run_id)
    if closed:
        log.warning("closed %d stale RUNNING run(s) of killed jobs as KILLED: %s", len(closed), closed)
    return closed


def experiment(
    client: MlflowClient, runtime: Runtime, name: str, max_age_s: float | None = None
) -> Experiment:
    """The experiment (created locally with local artifacts), after closing stale runs in it.

    On Databricks the stacks create it. ``max_age_s`` (default: 1 day) bounds runs from other hosts.
    """
    found = client.get_experiment_by_name(name)
    if found is None:
        faults.boundary("registry.create_experiment")
        try:
            client.create_experiment(name, artifact_location=artifact_location(runtime))
        except Exception:  # a concurrent job created it first
            if client.get_experiment_by_name(name) is None:
                raise
        found = client.get_experiment_by_name(name)
        assert found is not None
    close_stale_runs(client, found.experiment_id, max_age_s if max_age_s is not None else 86_400.0)
    return found


def override_tags(overrides: Mapping[str, Any]) -> dict[str, str]:
    """The run tag that records every accepted override (none without overrides)."""
    if not overrides:
        return {}
    return {RUN_TAG_OVERRIDES: json.dumps(dict(overrides), sort_keys=True, default=str)}


@contextmanager
def start_run(experiment_id: str, run_name: str, tags: Mapping[str, str] | None = None) -> Iterator[Any]:
    """``mlflow.start_run`` with the liveness tags ``close_stale_runs`` reads."""
    faults.boundary("registry.start_run")
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags={**(tags or {}), **_liveness_tags()}
    ) as run:
        yield run


def set_run_tags(client: MlflowClient, run_id: str, tags: Mapping[str, str]) -> None:
    faults.boundary("registry.set_run_tags")
    for key, value in tags.items():
        client.set_tag(run_id, key, value)


def log_text(client: MlflowClient, run_id: str, text: str, path: str) -> None:
    faults.boundary("registry.log_text")
    client.log_text(run_id, text, path)


# -- versions, tags, aliases --------------------------------------------------------------------------
def register_version(model_uri: str, name: str, tags: Mapping[str, str]) -> ModelVersion:
    """Register ``model_uri`` as a new version born with ``tags`` (one request: never untagged)."""
    check_tags(tags)
    faults.boundary("registry.register_version")
    return mlflow.register_model(model_uri, name, tags=dict(tags))


def delete_version(client: MlflowClient, name: str, version: str) -> None:
    faults.boundary("registry.delete_version")
    client.delete_model_version(name, str(version))


def set_version_tags(client: MlflowClient, mv: ModelVersion, tags: Mapping[str, str]) -> None:
    """Set tags on a version (checked against Unity Catalog's rules first, all or none sent)."""
    check_tags(tags, mv.tags)
    for key, value in tags.items():
        faults.boundary(f"registry.set_tag:{key}")
        client.set_model_version_tag(mv.name, str(mv.version), key, str(value))


def set_record(client: MlflowClient, mv: ModelVersion, kind: str, value: Mapping[str, Any]) -> None:
    """Write record ``kind`` as one JSON tag: it replaces the previous one in a single call."""
    set_version_tags(client, mv, {kind: encode(value)})


def set_description(client: MlflowClient, name: str, version: str, text: str) -> None:
    faults.boundary("registry.set_description")
    client.update_model_version(name, str(version), description=text)


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    faults.boundary(f"registry.set_alias:{alias}")
    client.set_registered_model_alias(name, alias, str(version))


def delete_alias(client: MlflowClient, name: str, alias: str) -> None:
    faults.boundary(f"registry.delete_alias:{alias}")
    client.delete_registered_model_alias(name, alias)


def aliases(client: MlflowClient, name: str) -> dict[str, str]:
    """``{alias: version}`` of a registered model ({} when it does not exist)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            return {}
        raise
    return {alias: str(version) for alias, version in (model.aliases or {}).items()}


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def versions_of_runs(client: MlflowClient, name: str, run_ids: list[str]) -> list[ModelVersion]:
    """Versions of ``name`` registered from these runs, lowest number first.

    One ``run_id = '...'`` filter per run: Unity Catalog's search accepts a single condition.
    """
    found: dict[int, ModelVersion] = {}
    for run_id in run_ids:
        for mv in client.search_model_versions(f"run_id = '{run_id}'"):
            if mv.name == name:
                found[int(mv.version)] = client.get_model_version(name, str(mv.version))
    return [found[v] for v in sorted(found)]
