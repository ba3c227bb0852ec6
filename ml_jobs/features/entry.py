"""Entry points of the feature tables (console scripts of the wheel).

* ``features --env <env> --tables a,b``: the feature job of one update frequency (one per schedule in
  the stacks): refreshes each named feature table from its source. Prints one JSON line.
* ``training-set --model <name> --env <env>``: the first task of a model's training job when it declares
  feature tables: the label table with point-in-time features, written as ``data.table``.

Exit codes: 0 done, 2 bad input (unknown table, rows refused by a constraint, missing source), 3
infrastructure (concurrent commits lost after bounded retries).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK, BadInput
from mlops_spec.config import ENV_NAMES
from mlops_spec.job_parameters import accept_job_parameters


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--env", required=True, choices=ENV_NAMES, help="Environment whose catalog to use.")
    p.add_argument("--config-dir", help="Folder with models.yaml and <env>.yaml (default: see ml_jobs.spec).")
    p.add_argument(
        "--local-root", help="Local project folder (default: $MLOPS_LOCAL_ROOT or ./.local/<env>)."
    )
    return p


def refresh_tables(
    env: str, names: Sequence[str], config_dir: str | None = None, local_root: str | None = None
) -> dict[str, Any]:
    from ml_jobs.features.job import refresh
    from ml_jobs.runtime import get_runtime
    from ml_jobs.spec import config_dir as find_config_dir
    from mlops_spec.config import load_environment, load_models
    from mlops_spec.config.features import feature_tables

    directory = find_config_dir(config_dir)
    catalog = load_environment(env, directory).catalog.name
    known = feature_tables(load_models(env, directory))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise BadInput(
            f"unknown feature tables {unknown or names}; declared: {', '.join(sorted(known)) or 'none'}"
        )
    runtime = get_runtime(env, root=local_root, catalog=catalog)
    return {"tables": [refresh(runtime, known[n]) for n in names]}


def features_main(argv: Sequence[str] | None = None) -> int:
    p = _parser("features")
    p.add_argument("--tables", required=True, help="Comma-separated feature table names to refresh.")
    accept_job_parameters(p)
    args = p.parse_args(argv)
    names = [n.strip() for n in args.tables.split(",") if n.strip()]
    return cli.run(lambda: (EXIT_OK, refresh_tables(args.env, names, args.config_dir, args.local_root)))


def training_set_main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("training-set", "Build the training table from the label table by point-in-time lookup.")
    accept_job_parameters(p)  # the first task of the train job: its sample_rows is pushed down here too
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.features.job import build_training_set
        from mlops_spec.config import load_models

        ctx = cli.context(args)
        models = load_models(args.env, ctx.spec.config_dir)
        return EXIT_OK, build_training_set(ctx.runtime, ctx.spec.model, models)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(features_main())
