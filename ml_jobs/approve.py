"""``approve --model <name> --env <env> [--version N] [--comment text]``.

Signs the next step of the version's approval chain as the authenticated caller (the workspace's
current user or service principal; locally the OS user). There is no ``--approver``: a name typed on
the command line proves nothing, so passing one is refused (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK, BadInput


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser(
        "approve", "Sign the next approval step of a validated version as the authenticated caller."
    )
    p.add_argument("--approver", help=argparse.SUPPRESS)  # refused below with a reason, not "unrecognized"
    p.add_argument("--version", help="Version to approve (default: the 'challenger' alias).")
    p.add_argument("--comment", default="", help="Why (in the approval tag; at most 600 characters).")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.registry.promotion import approval_chain, approvals_of, approve

        if args.approver is not None:
            raise BadInput(
                "--approver is not accepted: an approval records the authenticated caller (the "
                "workspace's current user or service principal; locally the OS user), not a typed name"
            )
        ctx = cli.context(args)
        mv = approve(ctx.spec, ctx.runtime, ctx.client(), args.version, args.comment)
        done, chain = approvals_of(ctx.spec, mv), approval_chain(ctx.spec, mv)
        return EXIT_OK, {
            "registered_name": mv.name,
            "version": str(mv.version),
            "chain": " -> ".join(chain),
            "signed": len(done),
            "of": len(chain),
            "approved_by": [a["by"] for a in done],
            "complete": len(done) == len(chain),
        }

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
