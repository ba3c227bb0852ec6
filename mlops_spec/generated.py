"""``--write`` / ``--check`` for a file generated from one source (the config reference, CODEOWNERS).

Without a flag the text goes to stdout; ``--write`` writes the file; ``--check`` exits 1 when the
committed file differs and names the command that regenerates it (a test runs ``--check``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops_spec.exit_codes import EXIT_OK, EXIT_REFUSED


def add_file_options(
    parser: argparse.ArgumentParser, default: Path, noun: str, shown_default: str | None = None
) -> None:
    """``--file`` (where the generated ``noun`` lives) and the exclusive ``--write`` / ``--check``."""
    parser.add_argument("--file", type=Path, default=default, help=f"default: {shown_default or default}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write the {noun}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when the {noun} is out of date")


def deliver(text: str, args: argparse.Namespace, prog: str, source: str) -> int:
    """Write, check or print ``text`` as ``args`` ask; ``source`` is what the file is generated from."""
    if args.write:
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(text, encoding="utf-8")
        return EXIT_OK
    if args.check:
        current = args.file.read_text(encoding="utf-8") if args.file.exists() else ""
        if current != text:
            print(f"{args.file}: out of date with {source}; run `{prog} --write`", file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK
