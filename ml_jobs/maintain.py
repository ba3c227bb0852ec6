"""``maintain --model <name> --env <env>``: retention of the predictions, labels and payload tables
(``monitoring.retention_days``: Delta retention properties, rows past it deleted, then VACUUM;
``ml_jobs.inference.retention``).

Exit codes: 0 done, 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("maintain", "Apply the retention of the tables that grow with traffic.")
    args = parser.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.inference.retention import run_maintain

        ctx = cli.context(args)
        return EXIT_OK, run_maintain(ctx.spec, ctx.runtime)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
