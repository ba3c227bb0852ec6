"""What the ``deploy`` entry point does, as functions that take their clients as parameters.

* canary / blue_green: roll the target version (``--version``, default the ``champion`` alias) out
  on the environment's endpoint through ``databricks-sdk`` (see ``ml_jobs.serving.rollout``).
* shadow: score the candidate (``--version``, default ``challenger``, else ``champion``) and its
  baseline (``--baseline-version``, default ``champion``, resp. ``previous_champion``) offline on
  logged requests; no workspace call, no traffic change. Once satisfied, deploy with canary or
  blue_green.

Without a workspace (locally) there is nothing to roll out to: the champion alias serves batch
scoring, and ``make serve`` starts ``mlflow models serve`` on it for a real local endpoint.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ml_jobs.errors import EXIT_OK, EXIT_REFUSED, BadInput, InfraError
from ml_jobs.registry import client as reg
from ml_jobs.runtime import Runtime
from ml_jobs.serving.endpoint import Compute, ServingClient
from ml_jobs.serving.health import HealthCheck, MetricsCheck, all_of, endpoint_state_check
from ml_jobs.serving.rollout import (
    RolloutPlan,
    RolloutResult,
    abort,
    planned_splits,
    restore,
    rollout,
)
from ml_jobs.serving.shadow import Predict, ShadowReport, compare, requests_frame
from ml_jobs.spec import ResolvedSpec
from mlops_spec.naming import endpoint_name

NO_WORKSPACE = (
    "no Databricks workspace configured ({detail}). Set DATABRICKS_HOST and DATABRICKS_TOKEN (or a "
    "profile), or pass --host. Locally the champion alias serves batch scoring, and `make serve` "
    "starts `mlflow models serve` on it."
)


@dataclass(frozen=True)
class DeployOptions:
    version: str | None = None
    rollback: bool = False
    plan_only: bool = False
    ready_timeout_s: float | None = None
    bake_seconds: float = 120.0
    max_error_rate: float = 0.01
    max_p99_ms: float | None = None
    poll_seconds: float = 10.0
    baseline_version: str | None = None
    requests_table: str | None = None
    max_requests: int = 10_000


# -- registry ---------------------------------------------------------------------------------------
def version_for(client: Any, name: str, explicit: str | None, aliases: tuple[str, ...]) -> str:
    """An explicit version that exists, or the first of ``aliases`` that is set."""
    from mlflow.exceptions import MlflowException

    if explicit is not None:
        if not str(explicit).isdigit():
            raise BadInput(f"--version: expected a model version number, got {explicit!r}")
        try:
            return str(client.get_model_version(name, str(explicit)).version)
        except MlflowException as exc:
            raise BadInput(f"model {name} has no version {explicit}") from exc
    for alias in aliases:
        found = reg.version_by_alias(client, name, alias)
        if found is not None:
            return str(found.version)
    raise BadInput(f"model {name} has none of the aliases {list(aliases)}: promote a version first, "
                   f"or pass --version")


def workspace_host(explicit: str | None, spec: ResolvedSpec, runtime: Runtime,
                   environ: Mapping[str, str]) -> str | None:
    """``--host`` > ``DATABRICKS_HOST`` > the environment's ``workspace.host``; None on a cluster,
    where the SDK finds the workspace and the job's identity by itself."""
    if explicit:
        return explicit
    if runtime.on_databricks or environ.get("DATABRICKS_HOST"):
        return None
    return spec.env.workspace.host


def workspace_client(host: str | None, retry_timeout_s: int) -> Any:
    """``WorkspaceClient`` from the SDK's auth chain (on a job cluster: the cluster's own identity)."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    try:
        settings: dict[str, Any] = {"host": host} if host else {}
        return WorkspaceClient(config=Config(retry_timeout_seconds=retry_timeout_s, **settings))
    except ValueError as exc:  # the SDK's "cannot configure default credentials"
        raise BadInput(NO_WORKSPACE.format(detail=str(exc).split(",")[0])) from exc


# -- canary / blue-green ----------------------------------------------------------------------------
def rollout_plan(spec: ResolvedSpec, target: str, opts: DeployOptions) -> RolloutPlan:
    model, env = spec.model, spec.env.environment
    serving = model.serving
    return RolloutPlan(
        endpoint=endpoint_name(env, model.name),
        target=target,
        strategy=serving.rollout,  # type: ignore[arg-type]  # shadow never reaches here
        canary_steps=serving.canary_steps,
        compute=Compute(serving.workload_size, model.scale_to_zero(env, production=spec.env.production)),
        ready_timeout_s=opts.ready_timeout_s or serving.ready_timeout_seconds,
    )


def run_rollout(spec: ResolvedSpec, runtime: Runtime, registry: Any, workspace: Any,
                opts: DeployOptions) -> tuple[int, dict[str, Any]]:
    name = runtime.registered_name(spec.model.name)
    target = version_for(registry, name, opts.version, (reg.CHAMPION,))
    plan = rollout_plan(spec, target, opts)
    client = ServingClient(workspace, spec.model.name, name, poll_seconds=opts.poll_seconds)
    if opts.plan_only:
        view = client.wait_settled(plan.endpoint, plan.ready_timeout_s)
        return EXIT_OK, {"endpoint": plan.endpoint, "target": target, "serving": view.split,
                         "planned": planned_splits(view, plan), "strategy": plan.strategy}
    health = health_checks(client, plan, opts)
    if opts.rollback and opts.version is None and target == rolled_back_champion(spec, runtime):
        # The champion is what a registry rollback restored: switching "back" from it would serve
        # the version it was rolled back from. Switching back means serving it.
        result = restore(client, plan, health)
    elif opts.rollback:
        result = abort(client, plan)
    else:
        result = rollout(client, plan, health)
    return result.exit_code, rollout_summary(plan, result, client)


def health_checks(client: ServingClient, plan: RolloutPlan, opts: DeployOptions) -> HealthCheck:
    return all_of(endpoint_state_check, MetricsCheck(
        client, plan.endpoint, bake_seconds=opts.bake_seconds, max_error_rate=opts.max_error_rate,
        max_p99_latency_ms=opts.max_p99_ms,
    ))


def rolled_back_champion(spec: ResolvedSpec, runtime: Runtime) -> str | None:
    """The champion's version when the last move of the champion was a rollback (from the ledger)."""
    from ml_jobs.registry.promotion import ROLLBACK, ledger

    moves = ledger(runtime, spec.model.name)
    return str(moves[-1].to_version) if moves and moves[-1].kind == ROLLBACK else None


def run_restore(spec: ResolvedSpec, runtime: Runtime, workspace: Any, target: str,
                opts: DeployOptions) -> tuple[int, dict[str, Any]]:
    """After ``rollback`` moved the aliases: the endpoint serves the restored champion ``target``."""
    name = runtime.registered_name(spec.model.name)
    plan = rollout_plan(spec, target, opts)
    client = ServingClient(workspace, spec.model.name, name, poll_seconds=opts.poll_seconds)
    result = restore(client, plan, health_checks(client, plan, opts))
    return result.exit_code, rollout_summary(plan, result, client)


def rollout_summary(plan: RolloutPlan, result: RolloutResult, client: ServingClient) -> dict[str, Any]:
    return {
        "status": result.status,
        "endpoint": plan.endpoint,
        "strategy": plan.strategy,
        "target": result.target,
        "stable": result.stable,
        "serving": result.serving,
        "message": result.message,
        "steps": [{"split": s.split, "sent": s.sent, "seconds": round(s.seconds, 1),
                   **({"healthy": s.health.ok, "reason": s.health.reason, "figures": dict(s.health.figures)}
                      if s.health else {})} for s in result.steps],
        "sdk_calls": len(client.calls),
    }


# -- shadow -----------------------------------------------------------------------------------------
def shadow_versions(registry: Any, name: str, opts: DeployOptions) -> tuple[str, str | None]:
    """(candidate, baseline): before promotion challenger vs champion, after it champion vs previous."""
    if opts.version is None and reg.version_by_alias(registry, name, reg.CHALLENGER) is not None:
        candidate, baseline_alias = version_for(registry, name, None, (reg.CHALLENGER,)), reg.CHAMPION
    else:
        candidate = version_for(registry, name, opts.version, (reg.CHAMPION,))
        baseline_alias = reg.PREVIOUS_CHAMPION if opts.version is None else reg.CHAMPION
    if opts.baseline_version is not None:
        return candidate, version_for(registry, name, opts.baseline_version, ())
    found = reg.version_by_alias(registry, name, baseline_alias)
    return candidate, str(found.version) if found is not None else None


def load_predictor(name: str, version: str) -> Predict:
    """Scores as the model serves them: the ``score`` column of the served model's answer."""
    from ml_jobs.serving import model as served_model

    workdir = Path(tempfile.mkdtemp(prefix=f"shadow-v{version}-"))
    loaded = served_model.load(f"models:/{name}/{version}", workdir)
    return lambda frame: served_model.score(loaded, frame)["score"].to_numpy()


def logged_requests(spec: ResolvedSpec, runtime: Runtime, table: str | None, limit: int) -> pd.DataFrame:
    ref = table or f"inference_logs.{spec.model.name}_payload"
    schema, sep, name = ref.partition(".")
    if not sep or not name:
        raise BadInput(f"--requests-table: expected schema.table, got {ref!r}")
    frame, version = runtime.read_table(schema, name)
    source = f"{spec.catalog}.{ref}@v{version}"
    ordered = oldest_first(frame, spec.model.data.timestamp_column, source)
    rows = requests_frame(ordered, spec.model.data.features, source)
    return rows.tail(limit).reset_index(drop=True)


REQUEST_ORDER = ("request_time", "databricks_request_id")
"""How a payload table orders requests: its request time, ties by request id (inference tables)."""


def oldest_first(logged: pd.DataFrame, timestamp_column: str, source: str) -> pd.DataFrame:
    """The log in explicit time order: a table read has no row order (a Spark collect is in
    partition order), so "newest" is decided by the request time, never by position."""
    keys = [c for c in REQUEST_ORDER if c in logged.columns]
    if "request_time" not in keys:
        keys = [timestamp_column] if timestamp_column in logged.columns else []
    if not keys:
        raise BadInput(f"{source}: no column to tell the newest requests by: expected request_time "
                       f"(inference table) or {timestamp_column} (data.timestamp_column)")
    return logged.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def run_shadow(spec: ResolvedSpec, runtime: Runtime, registry: Any, opts: DeployOptions,
               load: Callable[[str, str], Predict] | None = None) -> tuple[int, dict[str, Any]]:
    name = runtime.registered_name(spec.model.name)
    candidate, baseline = shadow_versions(registry, name, opts)
    if baseline is None or baseline == candidate:
        return EXIT_OK, {"status": "unchanged", "candidate": candidate, "baseline": baseline,
                         "message": f"no other version of {name} to compare v{candidate} with"}
    requests = logged_requests(spec, runtime, opts.requests_table, opts.max_requests)
    load = load or load_predictor
    report = compare(requests, load(name, baseline), load(name, candidate))
    return (EXIT_OK if report.passed else EXIT_REFUSED), shadow_summary(candidate, baseline, report)


def shadow_summary(candidate: str, baseline: str, report: ShadowReport) -> dict[str, Any]:
    return {"status": "passed" if report.passed else "failed", "candidate": candidate, "baseline": baseline,
            "traffic_changed": False, **dataclasses.asdict(report)}


def wrap_infra(fn: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    """SDK and network failures that escaped the rollout are infrastructure errors (exit 3)."""
    import requests
    from databricks.sdk.errors import DatabricksError

    try:
        return fn()
    except (DatabricksError, requests.RequestException, TimeoutError) as exc:
        raise InfraError(f"Databricks API call failed: {type(exc).__name__}: {exc}") from exc
