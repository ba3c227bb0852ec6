"""``deploy --model <name> --env <env> [--workload_size ...] [--scale_to_zero ...] [--rollout ...]``

Rolls a model version out on the environment's Model Serving endpoint with the strategy of the
model spec (``serving.rollout``; the job passes it, and the compute, as named parameters):
canary and blue_green change the endpoint through ``databricks-sdk``; shadow compares offline and
changes nothing. See ``ml_jobs.serving``.

Exit codes: 0 done (or nothing to do), 1 rolled back (a health check or the update failed; the
endpoint serves the last good version) or shadow comparison failed, 2 bad input, 3 infrastructure
(workspace unreachable, endpoint missing, not ready in time: the last good version still serves).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.serving.job import DeployOptions
from mlops_spec.job_parameters import accept_job_parameters


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {raw!r}")
    return value == "true"


def _positive(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {raw}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("deploy", "Roll a model version out on its serving endpoint (canary, blue-green, shadow).")
    # Underscored names are what the job's named_parameters pass; dashed ones are for people.
    p.add_argument("--workload_size", "--workload-size", choices=("Small", "Medium", "Large"),
                   help="Compute of the new served entity (default: serving.workload_size).")
    p.add_argument("--scale_to_zero", "--scale-to-zero", type=_bool, metavar="true|false",
                   help="Scale the new served entity to zero when idle (default: off in prod, on elsewhere).")
    p.add_argument("--rollout", choices=("canary", "blue_green", "shadow"),
                   help="Strategy (default: serving.rollout).")
    p.add_argument("--version", help="Version to roll out (default: the champion alias; shadow: see docs).")
    p.add_argument("--rollback", action="store_true",
                   help="Switch back: the last good version gets all traffic and the target is dropped.")
    p.add_argument("--plan", action="store_true",
                   help="Print the configs a rollout would send from the endpoint's state; send none.")
    p.add_argument("--host", help="Workspace URL (default: the SDK's auth chain, e.g. DATABRICKS_HOST).")
    p.add_argument("--ready-timeout", type=_positive,
                   help="Seconds per step (default: serving.ready_timeout_seconds).")
    p.add_argument("--bake-seconds", type=float, default=120.0,
                   help="Metrics window of each canary step's health check (default 120).")
    p.add_argument("--max-error-rate", type=float, default=0.01, help="Max 5xx share per step (0.01).")
    p.add_argument("--max-p99-ms", type=_positive, help="Max p99 latency per step (default: not checked).")
    p.add_argument("--poll-seconds", type=_positive, default=10.0, help="Readiness poll interval (10).")
    p.add_argument("--api-retry-seconds", type=int, default=120,
                   help="How long the SDK retries transient API errors (default 120).")
    p.add_argument("--baseline-version", help="shadow: version to compare with (default: see docs).")
    p.add_argument("--requests-table", help="shadow: schema.table of logged requests "
                                            "(default inference_logs.<model>_payload).")
    p.add_argument("--max-requests", type=int, default=10_000, help="shadow: newest N requests (10000).")
    accept_job_parameters(p)
    return p


def _spec_overrides(args: argparse.Namespace) -> list[str]:
    """Job parameters win over the spec, and go through the spec's own validation."""
    out = []
    if args.workload_size:
        out.append(f"serving.workload_size={args.workload_size}")
    if args.scale_to_zero is not None:
        out.append(f"serving.scale_to_zero={'true' if args.scale_to_zero else 'false'}")
    if args.rollout:
        out.append(f"serving.rollout={args.rollout}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.overrides = [*args.overrides, *_spec_overrides(args)]
    opts = DeployOptions(
        version=args.version, rollback=args.rollback, plan_only=args.plan, ready_timeout_s=args.ready_timeout,
        bake_seconds=args.bake_seconds, max_error_rate=args.max_error_rate, max_p99_ms=args.max_p99_ms,
        poll_seconds=args.poll_seconds, baseline_version=args.baseline_version,
        requests_table=args.requests_table, max_requests=args.max_requests,
    )

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.errors import BadInput
        from ml_jobs.serving import job as deploy_job

        ctx = cli.context(args)
        serving = ctx.spec.model.serving
        if not serving.enabled:
            where = f"{ctx.spec.config_dir / 'models.yaml'}: models.{ctx.spec.model.name}.serving.enabled"
            raise BadInput(f"{where} is false in {args.env}: this model has no serving endpoint to deploy to")
        if serving.rollout == "shadow":
            return deploy_job.run_shadow(ctx.spec, ctx.runtime, ctx.client(), opts)
        host = deploy_job.workspace_host(args.host, ctx.spec, ctx.runtime, os.environ)
        workspace = deploy_job.workspace_client(host, args.api_retry_seconds)
        return deploy_job.wrap_infra(
            lambda: deploy_job.run_rollout(ctx.spec, ctx.runtime, ctx.client(), workspace, opts)
        )

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
