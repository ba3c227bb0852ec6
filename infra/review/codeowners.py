"""``python -m infra.review.codeowners [--write | --check]``: .github/CODEOWNERS from the ownership map.

The ownership map (``policies/ownership.yaml``) is the single source: the review names the same
approvers GitHub requests. ``--check`` exits 1 when the committed file differs (a test runs it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.review.errors import ReviewError
from infra.review.params import Ownership, load_params
from mlops_spec.exit_codes import EXIT_BAD_INPUT
from mlops_spec.generated import add_file_options, deliver

HEADER = (
    "# Generated from policies/ownership.yaml by `python -m infra.review.codeowners --write`.\n"
    "# Edit the ownership map, not this file; a test fails when they disagree.\n"
    "# The last matching pattern takes precedence.\n"
)


def render(ownership: Ownership) -> str:
    width = max((len(p.pattern) for p in ownership.paths), default=0)
    lines = [f"{p.pattern.ljust(width)} {' '.join(p.owners)}" for p in ownership.paths]
    return HEADER + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.review.codeowners", description=__doc__.splitlines()[0])
    p.add_argument("--policies-dir", type=Path, default=Path("policies"))
    add_file_options(p, Path(".github/CODEOWNERS"), "file")
    args = p.parse_args(argv)
    try:
        text = render(load_params(args.policies_dir).ownership)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return deliver(text, args, p.prog, source="policies/ownership.yaml")


if __name__ == "__main__":
    sys.exit(main())
