"""``retrain --model <name> --env <env> [--reason TEXT] [--param k=v ...] [--set k=v ...]``.

Exit codes: 0 decided (promoted, rejected or awaiting approval: see the JSON line; also when the
same request was decided before), 1 refused (another retraining held the lock longer than
``MLOPS_LOCK_TIMEOUT_SECONDS``), 2 bad input, 3 infrastructure, 4 a bug. ``--request-id`` names the
retraining (the monitor passes its decision's); a request is carried out once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK
from ml_jobs.trigger import KINDS, recorded_trigger
from mlops_spec.job_parameters import accept_job_parameters


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser(
        "retrain", "Train a challenger on the latest data; promote it only when it beats the champion."
    )
    p.add_argument(
        "--reason", default="manual", help="Why retraining runs (the monitor passes its decision)."
    )
    p.add_argument(
        "--trigger",
        default="manual",
        choices=KINDS,
        help="What started it (the job parameter the monitor sets; a person's run is manual).",
    )
    p.add_argument(
        "--request-id",
        "--request_id",
        dest="request_id",
        default=None,
        help="Id of this retraining (default, or empty: derived from --reason and the production data "
        "read). The monitor passes its pending request's.",
    )
    cli.add_param_option(p)
    accept_job_parameters(p, own=("reason", "trigger", "request_id"))
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.retraining.retrain import retrain

        ctx = cli.context(args)
        fixed = cli.key_values(args.param, "--param") or None
        record = retrain(
            ctx.spec,
            ctx.runtime,
            ctx.client(),
            trigger=recorded_trigger(args.trigger, args.reason),
            actor=cli.actor(),
            fixed_params=fixed,
            request_id=args.request_id or None,
        )
        return EXIT_OK, record.to_dict()

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
