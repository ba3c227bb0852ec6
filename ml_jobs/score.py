"""``score --model <name> --env <env>``: batch models (serving disabled) score the feature table's new
rows with the ``champion`` on Spark (``mlflow.pyfunc.spark_udf``) into the predictions table.

Exit codes: 0 scored, 2 bad input (no champion, no feature table), 3 infrastructure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("score", "Score the feature table's new rows with the champion.")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.inference.job import run_score

        ctx = cli.context(args)
        return EXIT_OK, run_score(ctx.spec, ctx.runtime, ctx.client())

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
