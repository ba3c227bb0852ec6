"""``rollback --model <name> --env <env>``: the previous champion serves again (a re-run changes nothing)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("rollback", "Make previous_champion the champion again (undo the last move; idempotent).")
    p.add_argument("--actor", default=None, help="Who rolls back (default: $MLOPS_ACTOR or $USER).")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.registry.promotion import rollback

        ctx = cli.context(args)
        move = rollback(ctx.spec, ctx.runtime, ctx.client(), actor=args.actor or cli.actor())
        return EXIT_OK, dataclasses.asdict(move)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
