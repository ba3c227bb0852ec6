"""``approve --model <name> --env <env> --approver <who> [--version N] [--comment text]``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("approve", "Record an approval (who, when) on a validated version.")
    p.add_argument("--approver", required=True, help="Who approves (recorded in the approval tag).")
    p.add_argument("--version", help="Version to approve (default: the 'challenger' alias).")
    p.add_argument("--comment", default="", help="Why (in the approval tag; at most 600 characters).")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.registry.client import TAG_APPROVAL, record
        from ml_jobs.registry.promotion import approve

        ctx = cli.context(args)
        mv = approve(ctx.spec, ctx.runtime, ctx.client(), args.approver, args.version, args.comment)
        approval = {f"approval_{k}": v for k, v in (record(mv, TAG_APPROVAL) or {}).items()}
        return EXIT_OK, {"registered_name": mv.name, "version": str(mv.version), **approval}

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
