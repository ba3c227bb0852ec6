"""``train --model <name> --env <env> [--data-version N] [--param k=v ...] [--set k=v ...]``."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("train", "Train a challenger from the spec's table at a Delta version and register it.")
    p.add_argument("--data-version", type=int, help="Delta version of the training table (default: latest).")
    cli.add_param_option(p)
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.training.train import train_model

        ctx = cli.context(args)
        fixed = cli.key_values(args.param, "--param") or None
        result = train_model(
            ctx.spec, ctx.runtime, ctx.client(), data_version=args.data_version, fixed_params=fixed
        )
        return EXIT_OK, dataclasses.asdict(result)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
