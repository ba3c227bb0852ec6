"""``inventory --env <env>``: the daily inventory of every registered model of an environment.

One job per environment (not per model): it reads the model specs of ``--env``, the registry and
the models' monitoring tables, sets the registered-model tags the specs declare, and rewrites the
fleet tables of the monitoring schema (``ml_jobs.fleet.inventory``). Prints one JSON line.

Exit codes: 0 done (flagged models are reported, not failures), 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK
from mlops_spec.config import ENV_NAMES

if TYPE_CHECKING:  # the inventory imports pandas: not at the entry point's import
    from ml_jobs.fleet.inventory import Inventory


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inventory", description=__doc__)
    p.add_argument("--env", required=True, choices=ENV_NAMES, help="Environment whose catalog to inventory.")
    p.add_argument("--config-dir", help="Folder with models.yaml and <env>.yaml (default: see ml_jobs.spec).")
    p.add_argument(
        "--local-root", help="Local project folder (default: $MLOPS_LOCAL_ROOT or ./.local/<env>)."
    )
    return p


def run(env: str, config_dir: str | None = None, local_root: str | None = None) -> Inventory:
    """The job, callable in-process (the demo) as well as from the command line."""
    from ml_jobs.fleet.inventory import RuntimeTables, run_inventory
    from ml_jobs.fleet.sources import DatabricksWorkspace, LocalWorkspace, MlflowRegistry, Workspace
    from ml_jobs.registry.client import connect
    from ml_jobs.runtime import get_runtime
    from ml_jobs.spec import config_dir as find_config_dir
    from mlops_spec.config import load_environment, load_models

    directory = find_config_dir(config_dir)
    env_cfg = load_environment(env, directory)
    models = load_models(env, directory)
    runtime = get_runtime(env, root=local_root, catalog=env_cfg.catalog.name)
    workspace: Workspace
    if runtime.on_databricks:
        from databricks.sdk import WorkspaceClient

        workspace = DatabricksWorkspace(WorkspaceClient())
    else:
        workspace = LocalWorkspace()
    return run_inventory(
        models,
        env,
        env_cfg.catalog.name,
        env_cfg.groups,
        MlflowRegistry(connect(runtime)),
        workspace,
        RuntimeTables(runtime),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return cli.run(lambda: (EXIT_OK, run(args.env, args.config_dir, args.local_root).to_dict()))


if __name__ == "__main__":
    sys.exit(main())
