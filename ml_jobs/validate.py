"""``validate --model <name> --env <env> [--version N]``: exit 1 when a gate fails.

Without ``--version`` and without a ``challenger`` alias there is nothing new to judge: exit 0, so a
scheduled train -> validate -> promote run on unchanged data is a quiet success, not an alert.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK, EXIT_REFUSED, NoCandidate
from mlops_spec.job_parameters import accept_job_parameters


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("validate", "Run the spec's validation gates on a version (default: the challenger).")
    p.add_argument("--version", help="Model version to validate (default: the 'challenger' alias).")
    accept_job_parameters(p)
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.validation.validate import summary, validate_version

        ctx = cli.context(args)
        try:
            report = validate_version(ctx.spec, ctx.runtime, ctx.client(), args.version)
        except NoCandidate as exc:  # nothing new was trained (e.g. same data as the champion)
            print(f"nothing to validate: {exc}", file=sys.stderr)
            return EXIT_OK, {"status": "nothing_to_validate"}
        print(summary(report), file=sys.stderr)
        return (EXIT_OK if report.passed else EXIT_REFUSED), report.to_dict()

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
