"""``promote --model <name> --env <env> [--version N]``: challenger -> champion, or exit 1 with why not."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK, NoCandidate
from mlops_spec.job_parameters import accept_job_parameters


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser(
        "promote", "Move the champion alias to a validated (and, where required, approved) version."
    )
    p.add_argument("--version", help="Version to promote (default: the 'challenger' alias).")
    p.add_argument("--actor", default=None, help="Who promotes (default: $MLOPS_ACTOR or $USER).")
    accept_job_parameters(p)
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.registry.promotion import promote

        ctx = cli.context(args)
        try:
            move = promote(ctx.spec, ctx.runtime, ctx.client(), args.version, actor=args.actor or cli.actor())
        except NoCandidate as exc:  # nothing new was trained: the champion stays, quietly
            print(f"nothing to promote: {exc}", file=sys.stderr)
            return EXIT_OK, {"changed": False, "reason": "no challenger"}
        return EXIT_OK, dataclasses.asdict(move)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
