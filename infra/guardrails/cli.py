"""``python -m infra.guardrails``: the gate ``make check`` and CI run.

Exit codes: 0 clean (or only waived / below --fail-on), 1 an unwaived finding at or above
--fail-on, 2 unusable input (no stacks, unparsable JSON, invalid policy files, bad waivers).
"""

from __future__ import annotations

import argparse
import gc
import sys
from datetime import date
from pathlib import Path

from infra.guardrails.engine import evaluate
from infra.guardrails.errors import DocumentError, GuardrailsError
from infra.guardrails.model import Severity
from infra.guardrails.policy_files import Policies, load_policies
from infra.guardrails.render import RENDERERS
from infra.tfdoc import discover, load_paths

EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.guardrails", description=__doc__.splitlines()[0])
    p.add_argument(
        "paths", nargs="*", type=Path, help="cdk.tf.json files (default: cdktf.out/stacks/*/cdk.tf.json)"
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    fail_on = Severity.parse(args.fail_on)
    # The parsed JSON is millions of long-lived, acyclic containers: cyclic GC passes over them
    # cost about a third of the run and free nothing. The process exits right after.
    gc.disable()
    try:
        policies = load_policies(args.policies_dir)
        if args.list_rules:
            sys.stdout.write(rule_catalog(policies))
            return EXIT_CLEAN
        if args.plan and not args.env:
            raise GuardrailsError(
                "--plan needs --env (dev, staging, prod, ...): a plan does not name its environment"
            )
        resources = load_paths(args.plan, args.env) if args.plan else []
        if args.paths or not args.plan:
            resources += load_paths(args.paths or discover(args.root), args.env)
        report = evaluate(resources, policies, args.today)
    except DocumentError as exc:  # GuardrailsError included: policy data is input too
        print(f"guardrails: unusable input:\n{exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    text = RENDERERS[args.format](report, fail_on)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(RENDERERS["table"](report, fail_on).splitlines()[-1], file=sys.stderr)
    else:
        sys.stdout.write(text)
    return report.exit_code(fail_on)
