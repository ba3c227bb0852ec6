"""CDKTF app entry point (``cdktf.json`` runs ``python -m stacks.main``).

Every environment's config is loaded and checked before the first construct exists, so bad input
fails with one message and writes no synth output. Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from infra.cdk import App
from infra.constructs.artifact import WheelNotBuiltError
from infra.constructs.cluster_policies import PolicyTemplateError
from mlops_spec.config import ENV_NAMES, ConfigError, PlatformConfig, Problem, load_platform, load_roles
from mlops_spec.config.account import AccountConfig
from mlops_spec.config.loader import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_POLICIES_DIR,
    REPO_ROOT,
    check_platform_against_account,
    load_account,
    production_envs,
)
from stacks.account_stack import ACCOUNT_STACK, AccountStack
from stacks.environment_stack import EnvironmentStack

DIST_DIR = REPO_ROOT / "dist"


def find_wheel(dist_dir: Path = DIST_DIR) -> Path:
    wheels = sorted(dist_dir.glob("dbx_mlops_platform-*.whl"))
    if len(wheels) != 1:
        found = ", ".join(w.name for w in wheels) or "none"
        raise WheelNotBuiltError(
            f"{dist_dir}: expected exactly one platform wheel, found {found}; run `make wheel`"
        )
    return wheels[0]


def load_everything(
    envs: Sequence[str], config_dir: Path, policies_dir: Path
) -> tuple[dict[str, PlatformConfig], AccountConfig | None]:
    """Every environment and the account config, cross-checked; all problems reported together."""
    problems: list[Problem] = []
    platforms: dict[str, PlatformConfig] = {}
    account = None
    for env in envs:
        try:
            platforms[env] = load_platform(env, config_dir, policies_dir)
        except ConfigError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    try:
        account = load_account(config_dir)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if account is not None:
        for platform in platforms.values():
            problems.extend(check_platform_against_account(account, platform, config_dir))
    if problems:
        raise ConfigError(problems)
    return platforms, account


def build_app(
    envs: Sequence[str] = ENV_NAMES,
    *,
    outdir: str | None = None,
    config_dir: Path = DEFAULT_CONFIG_DIR,
    policies_dir: Path = DEFAULT_POLICIES_DIR,
    wheel: Path | None = None,
) -> App:
    platforms, account = load_everything(envs, config_dir, policies_dir)
    wheel = wheel or find_wheel()
    app = App(outdir=outdir) if outdir else App()
    # The account stack always holds every workspace, whatever `envs` selects: synthesizing a part of
    # it would make the next deploy destroy the workspaces left out.
    roles = next(iter(platforms.values())).roles if platforms else load_roles(policies_dir)
    production = production_envs(config_dir)
    account_stack = AccountStack(app, ACCOUNT_STACK, account, roles, production) if account else None
    for env, platform in platforms.items():
        host = account_stack.workspace_url(env) if account_stack else None
        credential = account_stack.storage_credential_name(env) if account_stack else None
        stack = EnvironmentStack(app, env, platform, wheel, host=host, storage_credential=credential)
        if account_stack is not None and host is not None:
            # Explicit for brownfield too: identities must be assigned before this stack looks them up.
            stack.add_dependency(account_stack)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--env",
        action="append",
        choices=ENV_NAMES,
        help="environment(s) to synthesize; default: $MLOPS_ENVS or all",
    )
    parser.add_argument("--outdir", help="synth output folder; default: cdktf's (cdktf.out)")
    parser.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR)
    parser.add_argument("--policies-dir", type=Path, default=DEFAULT_POLICIES_DIR)
    parser.add_argument("--wheel", type=Path)
    args = parser.parse_args(argv)
    envs = args.env or [e for e in os.environ.get("MLOPS_ENVS", "").split(",") if e] or list(ENV_NAMES)
    final = Path(args.outdir or os.environ.get("CDKTF_OUTDIR") or "cdktf.out")
    final.parent.mkdir(parents=True, exist_ok=True)
    # Synthesize into a sibling folder and swap it in only when everything succeeded: a failure
    # never leaves a half-written or stale-but-plausible cdktf.out behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        app = build_app(
            envs,
            outdir=str(staging),
            config_dir=args.config_dir,
            policies_dir=args.policies_dir,
            wheel=args.wheel,
        )
        app.synth()
    except (ConfigError, PolicyTemplateError, WheelNotBuiltError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        print(f"error: configuration is invalid; nothing was synthesized:\n{exc}", file=sys.stderr)
        return 2
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _hand_over_removed_stacks(final, staging)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return 0


def _hand_over_removed_stacks(final: Path, staging: Path) -> None:
    """Under the cdktf CLI, keep the folders of stacks this synth left out, for the CLI to remove.

    The CLI lists ``<outdir>/stacks/*`` before running the app and deletes, afterwards, each folder
    whose stack the new manifest lacks (``rmSync`` without ``force``): had the swap removed them
    already, ``make synth`` then ``make synth ENV=prod`` would fail with ENOENT. Without the CLI
    (``CDKTF_OUTDIR`` unset) they go with the old output, as before.
    """
    if not os.environ.get("CDKTF_OUTDIR") or not (final / "stacks").is_dir():
        return
    for old in (final / "stacks").iterdir():
        target = staging / "stacks" / old.name
        if old.is_dir() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            old.rename(target)


if __name__ == "__main__":
    sys.exit(main())
