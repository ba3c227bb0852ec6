"""``train --model <name> --env <env> [--data-version N] [--sample_rows N] [--param k=v] [--set k=v]``.

``--sample_rows N`` (the train job's parameter; ``make smoke`` sets it) trains on N rows and registers a
version that never becomes the challenger; 0, the default, trains on the whole table.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK
from mlops_spec.job_parameters import accept_job_parameters


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("train", "Train a challenger from the spec's table at a Delta version and register it.")
    p.add_argument("--data-version", type=int, help="Delta version of the training table (default: latest).")
    p.add_argument(
        "--sample_rows",
        "--sample-rows",
        type=int,
        default=0,
        help="Train on this many rows; the version never becomes the challenger (default 0: all).",
    )
    cli.add_param_option(p)
    accept_job_parameters(p, own=("sample_rows",))
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.training.train import train_model

        ctx = cli.context(args)
        fixed = cli.key_values(args.param, "--param") or None
        result = train_model(
            ctx.spec,
            ctx.runtime,
            ctx.client(),
            data_version=args.data_version,
            fixed_params=fixed,
            sample_rows=args.sample_rows,
        )
        return EXIT_OK, dataclasses.asdict(result)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
