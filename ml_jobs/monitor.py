"""``monitor --model <name> --env <env> [--fail-on-drift] [--no-retrain] [--set k=v ...]``.

Exit codes: 0 monitored (drift or not: see the JSON line), 2 bad input, 3 infrastructure,
4 an alert or the retraining trigger could not be delivered, 5 drift found with --fail-on-drift.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK

EXIT_ALERT_FAILED = 4
EXIT_DRIFT = 5


def _trigger(ctx: cli.Context, args: Any) -> Callable[[str], Any] | None:
    """Locally ``retrain`` runs in-process; on Databricks the model's retraining job is started, once
    per breach episode (``ml_jobs.trigger``)."""
    if args.no_retrain:
        return None
    from ml_jobs.trigger import recorded_trigger, trigger_kind

    if ctx.runtime.on_databricks:
        from databricks.sdk import WorkspaceClient

        return databricks_trigger(ctx, WorkspaceClient())
    from ml_jobs.retraining.retrain import retrain

    return lambda reason: retrain(
        ctx.spec,
        ctx.runtime,
        ctx.client(),
        trigger=recorded_trigger(trigger_kind(reason), reason),
        actor="monitor",
    ).to_dict()


def databricks_trigger(ctx: cli.Context, workspace: Any) -> Callable[[str], int]:
    """``jobs.run_now`` on the retraining job with the episode's token and the reason as parameters.

    The episode is read back from the state the monitor saved just before it triggers."""
    from ml_jobs.monitoring.job import load_state
    from ml_jobs.monitoring.sinks import trigger_databricks_job
    from ml_jobs.trigger import episode_token, job_parameters, trigger_kind
    from mlops_spec.naming import job_name

    model, env = ctx.spec.model.name, ctx.runtime.env

    def run_job(reason: str) -> int:
        window_end = load_state(ctx.runtime, model).last_window_end
        return trigger_databricks_job(
            workspace,
            job_name(env, model, "retrain"),
            idempotency_token=episode_token(model, env, window_end),
            job_parameters=job_parameters(reason, trigger_kind(reason)),
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
    p.add_argument("--no-retrain", action="store_true", help="Decide, but do not start retraining.")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict]:
        from ml_jobs.monitoring.job import monitor
        from ml_jobs.monitoring.sinks import AlertError

        ctx = cli.context(args)
        try:
            outcome = monitor(
                ctx.spec,
                ctx.runtime,
                ctx.client(),
                trigger=_trigger(ctx, args),
                webhook_url=os.environ.get("MLOPS_WEBHOOK_URL"),
            )
        except AlertError as exc:
            print(f"alert failed: {exc}", file=sys.stderr)
            return EXIT_ALERT_FAILED, {"error": str(exc)}
        result = outcome.result
        summary = {
            "champion_version": outcome.champion_version,
            "drift_detected": result.drift_detected,
            "drifted_columns": result.drifted_columns,
            "decision": result.decision.reason,
            "retrain_requested": outcome.retrain_requested,
            "retrain_outcome": outcome.retrain_outcome,
            "new_metric_rows": outcome.new_metric_rows,
            "report": str(result.report_path) if result.report_path else None,
            "mlflow_run_id": outcome.mlflow_run_id,
            "feature_freshness": _feature_freshness(ctx),
        }
        code = EXIT_DRIFT if args.fail_on_drift and result.drift_detected else EXIT_OK
        return code, summary

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
