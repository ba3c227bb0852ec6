"""``python -m infra.guardrails``: the gate ``make check`` and CI run.

Exit codes (``mlops_spec.exit_codes``): 0 clean (or only waived / below --fail-on), 1 an unwaived
finding at or above --fail-on, 2 unusable input (no stacks, an empty stack, unreadable or malformed
JSON, invalid policy files, bad waivers), 4 a bug in the gate itself (traceback on stderr): a crash
is never read as findings, and never as a pass. ``--output`` is written only when the run produced
a report; a failed run removes an earlier one, so CI never uploads a stale report.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import traceback
from datetime import date
from pathlib import Path

from infra.guardrails.engine import evaluate
from infra.guardrails.errors import DocumentError, GuardrailsError
from infra.guardrails.model import Resource, Severity
from infra.guardrails.policy_files import Policies, load_policies
from infra.guardrails.render import RENDERERS
from infra.tfdoc import discover, expand, load_file, problem
from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.guardrails", description=__doc__.splitlines()[0])
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="cdk.tf.json files or folders holding them (default: cdktf.out/stacks/*/cdk.tf.json)",
    )
    p.add_argument(
        "--plan", type=Path, action="append", default=[], help="`terraform show -json` plan output"
    )
    p.add_argument("--env", help="environment of --plan input (or override for the given paths)")
    p.add_argument("--format", choices=sorted(RENDERERS), default="table")
    p.add_argument("--output", type=Path, help="write the report here instead of stdout")
    p.add_argument(
        "--fail-on", default="low", choices=[s.name for s in Severity], help="lowest failing severity"
    )
    p.add_argument("--policies-dir", type=Path, default=Path("policies"))
    p.add_argument(
        "--root", type=Path, default=Path("."), help="where cdktf.out lives when no paths are given"
    )
    p.add_argument("--list-rules", action="store_true", help="print the rule catalog (Markdown) and exit")
    p.add_argument("--today", type=date.fromisoformat, help=argparse.SUPPRESS)  # tests pin waiver expiry
    return p


def rule_catalog(policies: Policies) -> str:
    lines = ["| Rule | Severity | Environments | Checks |", "|---|---|---|---|"]
    for rule in sorted(policies.rules.values(), key=lambda r: r.id):
        envs = "all" if set(rule.envs) == set(policies.envs) else ", ".join(rule.envs)
        lines.append(f"| {rule.id} `{rule.name}` | {rule.severity.name} | {envs} | {rule.title} |")
    return "\n".join(lines) + "\n"


def load_stacks(paths: list[Path], env: str | None) -> list[Resource]:
    """Every file's resources; a file with no managed resource is unusable, never an empty pass."""
    resources: list[Resource] = []
    for path in paths:
        found = load_file(path, env)
        if not any(r.mode == "managed" for r in found):
            raise DocumentError(
                problem(
                    str(path),
                    "resource",
                    "no resources to check: an empty stack (or a provider block alone) is never a pass",
                    None,
                    "a synthesized stack with its resources, or a plan",
                )
            )
        resources += found
    return resources


def _run(args: argparse.Namespace) -> int:
    fail_on = Severity.parse(args.fail_on)
    policies = load_policies(args.policies_dir)
    if args.list_rules:
        sys.stdout.write(rule_catalog(policies))
        return EXIT_OK
    if args.plan and not args.env:
        raise GuardrailsError(
            "--plan needs --env (dev, staging, prod, ...): a plan does not name its environment"
        )
    resources = load_stacks(args.plan, args.env) if args.plan else []
    if args.paths or not args.plan:
        resources += load_stacks(expand(args.paths) if args.paths else discover(args.root), args.env)
    report = evaluate(resources, policies, args.today)
    text = RENDERERS[args.format](report, fail_on)
    if args.output:
        _write(args.output, text)
        print(RENDERERS["table"](report, fail_on).splitlines()[-1], file=sys.stderr)
    else:
        sys.stdout.write(text)
    return report.exit_code(fail_on)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GuardrailsError(f"--output {path}: cannot write: {exc.strerror or exc}") from exc


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The parsed JSON is millions of long-lived, acyclic containers: cyclic GC passes over them
    # cost about a third of the run and free nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    except DocumentError as exc:  # GuardrailsError included: policy data is input too
        print(f"guardrails: unusable input:\n{exc}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except Exception:
        traceback.print_exc()
        print("guardrails: a bug in the gate (exit 4), not a verdict on the stacks", file=sys.stderr)
        code = EXIT_BUG
    finally:
        if collecting:
            gc.enable()  # called in-process (tests): leave the interpreter as it was
    if args.output is not None:
        args.output.unlink(missing_ok=True)  # an earlier report would describe other stacks
    return code
