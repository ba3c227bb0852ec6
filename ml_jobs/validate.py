"""``validate --model <name> --env <env> [--version N]``: exit 1 when a gate fails."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK, EXIT_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("validate", "Run the spec's validation gates on a version (default: the challenger).")
    p.add_argument("--version", help="Model version to validate (default: the 'challenger' alias).")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict]:
        from ml_jobs.validation.validate import summary, validate_version

        ctx = cli.context(args)
        report = validate_version(ctx.spec, ctx.runtime, ctx.client(), args.version)
        print(summary(report), file=sys.stderr)
        return (EXIT_OK if report.passed else EXIT_REFUSED), report.to_dict()

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
