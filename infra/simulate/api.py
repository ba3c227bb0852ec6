"""Build the simulation from synthesized documents and config, and run it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Handlers register themselves on import.
from infra.simulate import handlers_account, handlers_fleet, handlers_uc, handlers_workspace  # noqa: F401
from infra.simulate.engine import Simulator
from infra.simulate.jobs import run_jobs
from infra.simulate.model import Result, StackInput
from infra.simulate.scenario import SpecContext, account_admin, deployer, greenfield, load_existing
from infra.simulate.world import World
from infra.tfdoc import DocumentError, DocumentIndex, resources_from_doc
from mlops_spec.config import ACCOUNT_STACK, ENV_NAMES, ConfigError, load_platform
from mlops_spec.config.account import AccountConfig
from mlops_spec.config.loader import DEFAULT_CONFIG_DIR, DEFAULT_POLICIES_DIR, load_account


def stack_order(names: list[str]) -> list[str]:
    """The account stack first (the environment stacks depend on it), then dev, staging, prod."""
    rank = {ACCOUNT_STACK: -1, **{env: i for i, env in enumerate(ENV_NAMES)}}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def stacks_from_docs(
    docs: Mapping[str, dict[str, Any]],
    config_dir: Path = DEFAULT_CONFIG_DIR,
    policies_dir: Path = DEFAULT_POLICIES_DIR,
    account: AccountConfig | None = None,
) -> list[StackInput]:
    """One StackInput per synthesized stack; identities come from the config, never from the JSON."""
    inputs = []
    for name in stack_order(list(docs)):
        index = DocumentIndex(name, resources_from_doc(docs[name], name, f"{name}/cdk.tf.json"))
        if name == ACCOUNT_STACK:
            inputs.append(StackInput(name, index, account_admin(account), account_level=True))
            continue
        if name not in ENV_NAMES:
            raise DocumentError(
                f"{name}/cdk.tf.json: unknown stack {name!r}; allowed: account, {', '.join(ENV_NAMES)}"
            )
        platform = load_platform(name, config_dir, policies_dir)
        inputs.append(StackInput(name, index, deployer(platform), account_level=False, env=name))
    return inputs


def simulate(
    docs: Mapping[str, dict[str, Any]],
    *,
    config_dir: Path = DEFAULT_CONFIG_DIR,
    policies_dir: Path = DEFAULT_POLICIES_DIR,
    existing: Path | World | None = None,
) -> Result:
    """Apply ``docs`` (stack name -> cdk.tf.json) to a new account, or to ``existing`` (brownfield).

    Raises DocumentError or ConfigError for unusable input (exit 2 in the CLI).
    """
    account = load_account(config_dir) if ACCOUNT_STACK in docs else None
    if existing is None and ACCOUNT_STACK not in docs:
        raise ConfigError.single(
            "--existing",
            (),
            "environment stacks without the account stack need a description of what already exists",
            show_value=False,
            allowed="the account stack in the input, or --existing FILE (see stacks/existing.example.yaml)",
        )
    if isinstance(existing, World):
        world = existing
    elif existing is not None:
        world = load_existing(existing)
        if ACCOUNT_STACK in docs:
            admin = account_admin(account)
            world.principals.setdefault(admin, greenfield(account).principals[admin])
            world.account_admins.add(admin)
    else:
        world = greenfield(account)
    stacks = stacks_from_docs(docs, config_dir, policies_dir, account)
    return Simulator(world, stacks, context=SpecContext(config_dir)).run(run_jobs)
