"""``python -m infra.deploy``: plan, apply and deploy one stack; check a ref; compare toolchains.

    plan --env ENV          terraform plan -out, its show -json and a manifest into plans/ENV/
    apply --env ENV         apply exactly plans/ENV/tfplan, refusing a plan from another commit,
                            older than --max-age, changed since, or already applied
    deploy --env ENV        plan, show the changes, ask (or --auto-approve), apply that plan
    (plan|apply|deploy) --account   the same for the account stack (workspaces, metastore, network)
    check-env ENV           is ENV an environment `make plan|apply|deploy` may take (make runs it first)
    check-ref --commit SHA --branch REF   is the commit on the branch (prod deploys default-branch commits)
    toolchains DIR DIR      compare two synth outputs (cdktf vs CDK Terrain)

Exit codes (``mlops_spec.exit_codes``): 0 ok, 1 refused (another commit, too old, changed, already
applied, not on the branch, toolchains differ), 2 bad input (no synth output, no bundle, bad option,
``--env account``: the account stack is only ever named by ``--account``), 3 infrastructure (Terraform
missing or failed), 4 a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from infra.deploy.bundle import Bundle, describe_changes
from infra.deploy.flow import Context, apply_stack, is_dirty, parse_age, plan_stack
from infra.deploy.terraform import Terraform
from infra.deploy.toolchains import compare
from infra.review.errors import ReviewError
from infra.review.workspace import git
from mlops_spec.config import ACCOUNT_STACK, ENV_NAMES
from mlops_spec.exit_codes import EXIT_BUG, EXIT_OK, BadInput, Refused, ToolError

DEFAULT_MAX_AGE = "24h"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("plan", "apply", "deploy"):
        s = sub.add_parser(name)
        which = s.add_mutually_exclusive_group(required=True)
        which.add_argument("--env", help=f"the environment's stack: {', '.join(ENV_NAMES)}")
        which.add_argument("--account", action="store_true", help="the account stack (its own targets)")
        s.add_argument("--repo", type=Path, default=Path("."), help="the git checkout (default: .)")
        s.add_argument("--synth-dir", type=Path, default=Path("cdktf.out"))
        s.add_argument("--plans-dir", type=Path, default=Path("plans"))
        s.add_argument("--toolchain", default=os.environ.get("MLOPS_TOOLCHAIN") or "cdktf")
        if name in ("plan", "deploy"):
            s.add_argument(
                "--no-lock",
                action="store_true",
                help="plan without the state lock (a read-only identity cannot take it)",
            )
        if name in ("apply", "deploy"):
            s.add_argument(
                "--max-age",
                default=os.environ.get("PLAN_MAX_AGE") or DEFAULT_MAX_AGE,
                help=f"refuse a plan older than this (N[smhd]; default $PLAN_MAX_AGE or {DEFAULT_MAX_AGE})",
            )
            s.add_argument("--commit", help="the commit being deployed (CI: $GITHUB_SHA); default: HEAD")
        if name == "deploy":
            s.add_argument("--auto-approve", action="store_true", help="apply without asking")
    env = sub.add_parser("check-env")
    env.add_argument("env", help="the ENV given to make plan|apply|deploy")
    ref = sub.add_parser("check-ref")
    ref.add_argument("--commit", required=True)
    ref.add_argument("--branch", required=True, help="e.g. origin/main")
    ref.add_argument("--repo", type=Path, default=Path("."))
    tc = sub.add_parser("toolchains")
    tc.add_argument("first", type=Path, help="synth output of the default toolchain (cdktf)")
    tc.add_argument("second", type=Path, help="synth output of the other toolchain (cdktn)")
    return p


def environment(env: str) -> str:
    """``env`` if it names an environment's stack; the account stack (which holds the prod workspace)
    is never reached through an environment's targets, so that `make deploy ENV=...` cannot touch it."""
    if env == ACCOUNT_STACK:
        raise BadInput(
            f"ENV={env}: the account stack has its own targets (make plan-account, apply-account, "
            "deploy-account; --account here), with their own workflow and approval"
        )
    if env not in ENV_NAMES:
        raise BadInput(f"ENV={env!r}: not an environment; allowed: {', '.join(ENV_NAMES)}")
    return env


def _stack(args: argparse.Namespace) -> str:
    return ACCOUNT_STACK if args.account else environment(args.env)


def _context(args: argparse.Namespace) -> Context:
    return Context(args.repo.resolve(), args.synth_dir, args.plans_dir, args.toolchain)


def cmd_check_env(args: argparse.Namespace) -> int:
    environment(args.env)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    ctx, stack = _context(args), _stack(args)
    manifest = plan_stack(ctx, stack, Terraform(), lock=not args.no_lock)
    bundle = ctx.bundle(stack)
    _summary(bundle, manifest.changes, f"plan {stack} at {manifest.commit[:12]}")
    if manifest.dirty:
        print("note: uncommitted changes; `apply` refuses this plan (plan a commit)", file=sys.stderr)
    print(f"wrote {bundle.root}/ (tfplan, plan.json, manifest.json)", file=sys.stderr)
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    ctx, stack = _context(args), _stack(args)
    manifest = apply_stack(ctx, stack, Terraform(), max_age=parse_age(args.max_age), commit=args.commit)
    print(f"applied plan {manifest.plan_sha256[:12]} of {stack} at {manifest.commit[:12]}", file=sys.stderr)
    return EXIT_OK


def cmd_deploy(args: argparse.Namespace) -> int:
    ctx, stack = _context(args), _stack(args)
    max_age = parse_age(args.max_age)
    if is_dirty(ctx.repo, ignore=[ctx.plans_dir]):
        raise Refused(
            f"deploy {stack}: uncommitted changes; commit them (a deploy applies a plan of a commit)"
        )
    terraform = Terraform()
    manifest = plan_stack(ctx, stack, terraform, lock=not args.no_lock)
    _summary(ctx.bundle(stack), manifest.changes, f"plan {stack} at {manifest.commit[:12]}")
    if not any(n for k, n in manifest.changes.items() if k not in ("no-op", "read")):
        print(f"{stack}: no changes; nothing to apply", file=sys.stderr)
        return EXIT_OK
    if not args.auto_approve and not _confirm(stack):
        raise Refused(f"deploy {stack}: not approved; the saved plan stays in {ctx.bundle(stack).root}")
    apply_stack(ctx, stack, terraform, max_age=max_age, commit=args.commit)
    return EXIT_OK


def _confirm(stack: str) -> bool:
    if not sys.stdin.isatty():
        raise Refused(f"deploy {stack}: no terminal to ask; pass --auto-approve (ARGS=--auto-approve)")
    return input(f"Apply this plan to {stack}? Only 'yes' applies: ").strip() == "yes"


def _summary(bundle: Bundle, changes: dict[str, int], title: str) -> None:
    counts = ", ".join(f"{n} to {k}" for k, n in changes.items() if n and k not in ("no-op", "read"))
    print(f"{title}: {counts or 'no changes'}", file=sys.stderr)
    for line in describe_changes(bundle.plan_document()):
        print(line, file=sys.stderr)


def cmd_check_ref(args: argparse.Namespace) -> int:
    repo = args.repo.resolve()
    try:
        commit = git(repo, "rev-parse", "--verify", f"{args.commit}^{{commit}}").stdout.strip()
        branch = git(repo, "rev-parse", "--verify", f"{args.branch}^{{commit}}").stdout.strip()
    except ReviewError as exc:
        raise BadInput(f"check-ref: unknown commit or branch in {repo} (fetch it first): {exc}") from exc
    on_branch = git(repo, "merge-base", "--is-ancestor", commit, branch, check=False).returncode == 0
    if not on_branch:
        raise Refused(
            f"{commit[:12]} is not on {args.branch} ({branch[:12]}): production deploys only commits "
            "of the default branch; tag a commit that was merged"
        )
    print(f"{commit[:12]} is on {args.branch}", file=sys.stderr)
    return EXIT_OK


def cmd_toolchains(args: argparse.Namespace) -> int:
    failing, allowed = compare(args.first, args.second)
    print(f"toolchains: {len(allowed)} allowed differences (toolchain and provider versions)")
    for line in allowed:
        print(f"  allowed  {line}")
    for line in failing:
        print(f"  DIFFERS  {line}")
    if failing:
        print(f"toolchains: {len(failing)} differences beyond versions: FAIL", file=sys.stderr)
        return Refused.exit_code
    print("toolchains: identical stacks modulo toolchain and provider versions")
    return EXIT_OK


COMMANDS = {
    "plan": cmd_plan,
    "apply": cmd_apply,
    "deploy": cmd_deploy,
    "check-env": cmd_check_env,
    "check-ref": cmd_check_ref,
    "toolchains": cmd_toolchains,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:  # a bug here is never a verdict on the plan
        traceback.print_exc()
        return EXIT_BUG
