"""``unpack --model <name> --env <env> [--version V]``: the endpoint's inference table into the
predictions table the monitor reads (``ml_jobs.inference``), each request once.

Exit codes: 0 unpacked (counts in the JSON line), 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("unpack", "Unpack served requests into the model's predictions table.")
    p.add_argument("--version", help="Version that served rows without their own (default: the endpoint's).")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.inference.job import run_unpack

        ctx = cli.context(args)
        return EXIT_OK, run_unpack(ctx.spec, ctx.runtime, args.version)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
