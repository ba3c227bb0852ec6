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
from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED

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
    p.add_argument("--file", type=Path, default=Path(".github/CODEOWNERS"))
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the file")
    mode.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    args = p.parse_args(argv)
    try:
        text = render(load_params(args.policies_dir).ownership)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.write:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(text, encoding="utf-8")
        return EXIT_OK
    if args.check:
        current = args.file.read_text(encoding="utf-8") if args.file.exists() else ""
        if current != text:
            print(
                f"{args.file}: out of date with policies/ownership.yaml; run "
                "`python -m infra.review.codeowners --write`",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
