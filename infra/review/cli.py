"""``python -m infra.review --base REF``: the infra pull-request review (``make review BASE=...``).

Synthesizes the base ref (in a temporary git worktree) and the current tree, compares them and
writes review.md (a PR comment) and review.json (everything).
Exit codes (``mlops_spec.exit_codes``): 0 pass or warn, 1 block, 2 unusable input (dirty tree,
unknown ref, failed synth, bad policy files or plans), 4 a bug in the review itself (traceback on
stderr), never read as a verdict. A run that fails removes earlier review.md/review.json, so CI
never posts a stale review.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from infra.guardrails import FloorError, GuardrailsError, Policies, load_policies
from infra.review.diff import Inputs, diff
from infra.review.errors import ReviewError
from infra.review.params import load_params
from infra.review.render import render_json, render_markdown
from infra.review.workspace import (
    base_worktree,
    changed_files,
    dirty_paths,
    repo_root,
    resolve_ref,
    scratch_dir,
    synthesize_both,
)
from infra.tfdoc import DocumentError, read_json
from mlops_spec.config import ENV_NAMES, ConfigError, load_environment, production_envs
from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_BUG, EXIT_OK, EXIT_REFUSED


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.review", description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="git ref to compare against (branch, tag, commit)")
    p.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="ENV=PLAN.json",
        help="`terraform show -json` output for ENV: its actions replace the synthesized diff",
    )
    p.add_argument("--out-md", type=Path, default=Path("review.md"))
    p.add_argument("--out-json", type=Path, default=Path("review.json"))
    p.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: current dir)")
    p.add_argument("--pointer", default=None, help="where the full report lives (a URL), for truncation")
    p.add_argument("--today", type=date.fromisoformat, help=argparse.SUPPRESS)  # tests pin waiver expiry
    return p


def parse_plans(specs: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    plans = {}
    for spec in specs:
        env, sep, file = spec.partition("=")
        if not sep or not env or not file:
            raise ReviewError(f"--plan {spec!r}: expected ENV=PLAN.json, e.g. --plan prod=plan-prod.json")
        try:
            doc = read_json(Path(file))
        except DocumentError as exc:
            raise ReviewError(f"--plan {spec}: {exc}") from exc
        if "resource_changes" not in doc:
            raise ReviewError(
                f"{file}: <root>: not a `terraform show -json` plan (no resource_changes); "
                "create it with `terraform plan -out tf.plan && terraform show -json tf.plan`"
            )
        plans[env] = (file, doc)
    return plans


def budgets(repo: Path, envs: Sequence[str]) -> dict[str, float]:
    """Each environment's ``monthly_budget_usd``, from the head's stacks/<env>.yaml as the stacks read it."""
    out = {}
    for env in envs:
        if env not in ENV_NAMES:
            continue  # the account stack has no budget
        try:
            budget = load_environment(env, repo / "stacks").monthly_budget_usd
        except ConfigError as exc:
            raise ReviewError(f"head configuration: {exc}") from exc
        if budget is not None:
            out[env] = budget
    return out


def _production(repo: Path) -> tuple[str, ...]:
    """The head's production environments (``production: true`` in stacks/<env>.yaml)."""
    try:
        return production_envs(repo / "stacks")
    except ConfigError as exc:
        raise ReviewError(f"head configuration: {exc}") from exc


def _base_policies(tree: Path, notes: list[str]) -> Policies | None:
    try:
        return load_policies(tree / "policies", enforce_floors=False)
    except GuardrailsError as exc:
        notes.append(f"base guardrail policies unusable; base findings not compared: {exc}")
        return None


def _head_policies(repo: Path) -> Policies:
    """The head's gate; parameters past their floors still load: the review blocks on them."""
    try:
        return load_policies(repo / "policies")
    except FloorError as exc:
        return exc.policies
    except GuardrailsError as exc:
        raise ReviewError(f"head guardrail policies: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    repo = repo_root(args.repo.resolve())
    dirty = dirty_paths(repo, ignore=[args.out_md, args.out_json])
    if dirty:
        shown = "\n  ".join(dirty[:20]) + ("\n  ..." if len(dirty) > 20 else "")
        raise ReviewError(
            f"{repo}: the working tree has uncommitted changes; commit or stash them so the review "
            f"matches what the pull request holds:\n  {shown}"
        )
    base_sha = resolve_ref(repo, args.base)
    head_sha = resolve_ref(repo, "HEAD")
    plans = parse_plans(args.plan)
    params = load_params(repo / "policies")
    head_policies = _head_policies(repo)
    notes: list[str] = []
    with scratch_dir() as tmp, base_worktree(repo, base_sha, tmp) as tree:
        base_docs, head_docs = synthesize_both(repo, tree, tmp)
        base_policies = _base_policies(tree, notes)
    unknown = sorted(set(plans) - set(head_docs))
    if unknown:
        raise ReviewError(f"--plan {unknown[0]}=...: no such environment; allowed: {', '.join(head_docs)}")
    inputs = Inputs(
        params,
        base_policies,
        head_policies,
        plans,
        budgets(repo, list(head_docs)),
        changed_files(repo, base_sha),
        args.today,
        _production(repo),
    )
    review = diff(base_docs, head_docs, inputs, f"{args.base} ({base_sha[:10]})", f"HEAD ({head_sha[:10]})")
    review.notes += notes
    kwargs = {"pointer": args.pointer} if args.pointer else {}
    args.out_md.write_text(render_markdown(review, **kwargs), encoding="utf-8")
    args.out_json.write_text(render_json(review), encoding="utf-8")
    verdicts = ", ".join(f"{e.env} {e.verdict}" for e in review.envs)
    print(
        f"review: {review.verdict} ({verdicts}); wrote {args.out_md} and {args.out_json} "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return EXIT_REFUSED if review.verdict == "block" else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except DocumentError as exc:  # ReviewError and GuardrailsError included
        print(f"error: {exc}\nnothing was written.", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except Exception:
        traceback.print_exc()
        print("review: a bug in the review (exit 4), not a verdict; nothing was written.", file=sys.stderr)
        code = EXIT_BUG
    for path in (args.out_md, args.out_json):
        path.unlink(missing_ok=True)  # an earlier review would be posted as this one
    return code
