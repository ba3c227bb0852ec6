"""``python -m infra.simulate`` (``make simulate``): would a first deploy succeed, and every job run?

Reads the synthesized stacks (``cdktf.out/stacks/*/cdk.tf.json``, or the files/folders given), applies
them to a model of a new account (or to ``--existing FILE``, a description of what already exists),
then runs every job task on paper. Exit codes (``mlops_spec.exit_codes``): 0 every step allowed,
1 failures, 2 unusable input or config, 4 a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.simulate.api import simulate
from infra.simulate.model import Result
from infra.simulate.rules import RULES, rules_markdown
from infra.tfdoc import DocumentError, discover, read_json
from mlops_spec.config import ConfigError
from mlops_spec.config.loader import DEFAULT_CONFIG_DIR, DEFAULT_POLICIES_DIR
from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, EXIT_REFUSED


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.simulate", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "paths", nargs="*", type=Path, help="cdk.tf.json files or stack folders (default: discover)"
    )
    p.add_argument("--root", type=Path, default=Path("."), help="where cdktf.out/ is (default: .)")
    p.add_argument("--existing", type=Path, help="YAML description of what exists before the deploy")
    p.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR)
    p.add_argument("--policies-dir", type=Path, default=DEFAULT_POLICIES_DIR)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--output", type=Path, help="write the report here instead of stdout")
    p.add_argument("--rules", action="store_true", help="print the rules and their sources, then exit")
    p.add_argument("--rules-markdown", action="store_true", help="print RULES.md, then exit")
    return p


def read_stacks(paths: Sequence[Path], root: Path) -> dict[str, dict[str, Any]]:
    files = []
    for path in paths or discover(root):
        if path.is_dir():
            path = path / "cdk.tf.json"
        files.append(path)
    docs: dict[str, dict[str, Any]] = {}
    for file in files:
        name = file.parent.name
        if name in docs:
            raise DocumentError(f"{file}: a second stack named {name!r}")
        docs[name] = read_json(file)
    return docs


def render_table(result: Result, seconds: float) -> str:
    lines = []
    verdict = "PASS" if result.ok else f"FAIL ({len(result.failures)} failures)"
    lines.append(
        f"simulate: {', '.join(result.stacks)}: {result.resources} resources applied, "
        f"{result.job_tasks} job tasks run on paper in {seconds:.2f} s: {verdict}"
    )
    for stack in result.stacks:
        mine = [f for f in result.failures if f.stack == stack]
        if not mine:
            continue
        lines.append(f"\n{stack}:")
        for f in mine:
            lines.append(f"  {f.rule}  {f.where}")
            lines.append(f"         {f.operation}, as {f.identity}: {f.missing}")
    used = sorted({f.rule for f in result.failures})
    if used:
        lines.append("\nrules (infra/simulate/RULES.md):")
        lines.extend(f"  {r}: {RULES[r].title} [{RULES[r].source}]" for r in used)
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.rules_markdown:
        sys.stdout.write(rules_markdown())
        return EXIT_OK
    if args.rules:
        for rule in RULES.values():
            print(f"{rule.id} [{rule.phase}] {rule.title}\n    source: {rule.source}")
        return EXIT_OK
    started = time.perf_counter()
    try:
        docs = read_stacks(args.paths, args.root)
        result = simulate(
            docs, config_dir=args.config_dir, policies_dir=args.policies_dir, existing=args.existing
        )
    except (DocumentError, ConfigError) as exc:
        if args.output:
            args.output.unlink(missing_ok=True)
        print(f"error: unusable input; nothing was simulated:\n{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # a bug in the simulator is never a verdict on the stacks
        traceback.print_exc()
        return EXIT_BUG
    seconds = time.perf_counter() - started
    text = (
        json.dumps({**result.to_dict(), "seconds": round(seconds, 3)}, indent=2) + "\n"
        if args.format == "json"
        else render_table(result, seconds)
    )
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(render_table(result, seconds).splitlines()[0], file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK if result.ok else EXIT_REFUSED
