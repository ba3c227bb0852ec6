"""``monitor --model <name> --env <env> [--fail-on-drift] [--no-retrain] [--set k=v ...]``.

Exit codes (``mlops_spec.exit_codes``): 0 monitored (drift or not: see the JSON line), 2 bad input,
3 infrastructure, 4 a bug, 5 drift found with --fail-on-drift, 6 the alert webhook stayed down
after its retries (state and retraining went ahead), 7 retraining was decided but could not
start (it stays pending; the next run starts it). When several apply, the highest wins.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK
from mlops_spec.exit_codes import EXIT_ALERT_FAILED, EXIT_DRIFT, EXIT_RETRAIN_PENDING

if TYPE_CHECKING:  # the job module imports pandas: not at the entry point's import
    from ml_jobs.monitoring.job import RetrainRequest, Trigger


def _trigger(ctx: cli.Context, args: Any) -> Trigger | None:
    """Locally ``retrain`` runs in-process; on Databricks the model's retraining job is started, once
    per breach episode (``ml_jobs.trigger``): the request id is the episode's token."""
    if args.no_retrain:
        return None
    if ctx.runtime.on_databricks:
        from databricks.sdk import WorkspaceClient

        return databricks_trigger(ctx, WorkspaceClient())
    from ml_jobs.retraining.retrain import retrain
    from ml_jobs.trigger import recorded_trigger, trigger_kind

    return lambda request: retrain(
        ctx.spec,
        ctx.runtime,
        ctx.client(),
        trigger=recorded_trigger(trigger_kind(request.reason), request.reason),
        actor="monitor",
        request_id=request.request_id,
    ).to_dict()


def databricks_trigger(ctx: cli.Context, workspace: Any) -> Trigger:
    """``jobs.run_now`` on the retraining job with the request's id as the idempotency token, and the
    reason, the trigger kind and the request id as job parameters (the retraining records its
    decision under that id, so the pending request the monitor saved is settled exactly once)."""
    from ml_jobs.monitoring.sinks import trigger_databricks_job
    from ml_jobs.trigger import job_parameters, trigger_kind
    from mlops_spec.naming import job_name

    def run_job(request: RetrainRequest) -> int:
        return trigger_databricks_job(
            workspace,
            job_name(ctx.runtime.env, ctx.spec.model.name, "retrain"),
            idempotency_token=request.request_id,
            job_parameters=job_parameters(request.reason, trigger_kind(request.reason), request.request_id),
        )

    return run_job


def _feature_freshness(ctx: cli.Context) -> list[dict[str, Any]]:
    """Age of the newest row of each feature table the model reads vs its expected freshness."""
    from ml_jobs.features.job import model_freshness
    from mlops_spec.config import load_models

    if ctx.spec.model.features is None:
        return []
    return model_freshness(ctx.runtime, ctx.spec.model, load_models(ctx.runtime.env, ctx.spec.config_dir))


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("monitor", "Drift and performance monitoring of a model's inference log.")
    p.add_argument("--fail-on-drift", action="store_true", help=f"Exit {EXIT_DRIFT} when drift is detected.")
    p.add_argument(
        "--no-retrain", action="store_true", help="Decide, but do not start retraining (it stays pending)."
    )
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.monitoring.job import monitor

        ctx = cli.context(args)
        outcome = monitor(
            ctx.spec,
            ctx.runtime,
            ctx.client(),
            trigger=_trigger(ctx, args),
            webhook_url=ctx.runtime.settings.webhook_url,
        )
        result = outcome.result
        summary = {
            "champion_version": outcome.champion_version,
            "drift_detected": result.drift_detected,
            "drifted_columns": result.drifted_columns,
            "decision": result.decision.reason,
            "retrain_requested": outcome.retrain_requested,
            "retrain_request": outcome.request.request_id if outcome.request else None,
            "retrain_outcome": outcome.retrain_outcome,
            "retrain_error": outcome.retrain_error,
            "retrain_pending": bool(outcome.state and outcome.state.pending_request),
            "alert": outcome.alert,
            "alert_error": outcome.alert_error,
            "new_metric_rows": outcome.new_metric_rows,
            "report": str(result.report_path) if result.report_path else None,
            "mlflow_run_id": outcome.mlflow_run_id,
            "feature_freshness": _feature_freshness(ctx),
        }
        code = EXIT_OK
        if args.fail_on_drift and result.drift_detected:
            code = EXIT_DRIFT
        if outcome.alert == "failed":
            code = EXIT_ALERT_FAILED
        if outcome.retrain_error is not None:
            code = EXIT_RETRAIN_PENDING
        return code, summary

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
