"""``rollback --model <name> --env <env>``: the previous champion serves again (a re-run changes nothing).

Two steps, each idempotent, so a run killed anywhere is finished by running it again:

1. the registry: ``champion`` goes back to ``previous_champion`` through the champion ledger
   (exactly once; ``ml_jobs.registry.promotion.rollback``);
2. the endpoint: the restored champion's version is rolled out on the environment's serving
   endpoint with the deploy health checks, and the rolled-back version is dropped
   (``ml_jobs.serving.rollout.restore``). Aliases alone change nothing that is served: the endpoint
   serves a pinned version. This step runs when a workspace is configured (``--host``,
   ``DATABRICKS_HOST``, or on a Databricks cluster) and the model has serving enabled; otherwise
   the report says the endpoint was not touched (locally the champion alias serves batch scoring).

Exit codes: 0 done, 1 refused (nothing to roll back to, or the endpoint could not be restored: it
never switches back to the rolled-back version), 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("rollback", "Make previous_champion the champion again and serve it (idempotent).")
    p.add_argument("--actor", default=None, help="Who rolls back (default: $MLOPS_ACTOR or $USER).")
    p.add_argument("--host", help="Workspace URL whose endpoint to restore (default: DATABRICKS_HOST; "
                                  "none: the endpoint is not touched).")
    p.add_argument("--bake-seconds", type=float, default=120.0, help="Health-check window (default 120).")
    p.add_argument("--poll-seconds", type=float, default=10.0, help="Readiness poll interval (10).")
    p.add_argument("--api-retry-seconds", type=int, default=120,
                   help="How long the SDK retries transient API errors (default 120).")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.registry.promotion import rollback
        from ml_jobs.serving import job as serving_job

        ctx = cli.context(args)
        move = rollback(ctx.spec, ctx.runtime, ctx.client(), actor=args.actor or cli.actor())
        report: dict[str, Any] = dataclasses.asdict(move)
        configured = args.host or os.environ.get("DATABRICKS_HOST") or ctx.runtime.on_databricks
        if not ctx.spec.model.serving.enabled or not configured:
            report["endpoint"] = {"status": "not_touched",
                                  "message": "no serving endpoint or no workspace configured"}
            return EXIT_OK, report
        opts = serving_job.DeployOptions(bake_seconds=args.bake_seconds, poll_seconds=args.poll_seconds)
        workspace = serving_job.workspace_client(args.host, args.api_retry_seconds)
        code, report["endpoint"] = serving_job.wrap_infra(
            lambda: serving_job.run_restore(ctx.spec, ctx.runtime, workspace, move.champion, opts)
        )
        return code, report

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
