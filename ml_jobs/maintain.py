"""``maintain --model <name> --env <env>``: retention of the predictions table
(``monitoring.retention_days``: Delta retention properties, rows past it deleted, then VACUUM).

Exit codes: 0 done, 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = cli.parser("maintain", "Apply the predictions table's retention.").parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.inference.job import run_maintain

        ctx = cli.context(args)
        return EXIT_OK, run_maintain(ctx.spec, ctx.runtime)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
