"""Argument parsing and error handling shared by every entry point.

Every job takes ``--model`` and ``--env`` (the stacks pass them as named parameters), optional
``--config-dir`` and repeated ``--set key.path=value`` overrides of the model spec. ``run`` turns
the job's exceptions into the documented exit codes (see ``ml_jobs.errors``) and prints the
result as one JSON line on stdout, so a job's output is easy to read and to parse.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient

from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INFRA, EXIT_OK, JobError
from ml_jobs.runtime import Runtime, get_runtime
from ml_jobs.spec import ResolvedSpec, parse_overrides, resolve
from mlops_spec.config import ENV_NAMES, ConfigError

log = logging.getLogger("ml_jobs")


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument(
        "--model", required=True, help="Model name from stacks/models.yaml, e.g. marketing_churn_gbm."
    )
    p.add_argument(
        "--env", required=True, choices=ENV_NAMES, help="Environment whose spec and catalog to use."
    )
    p.add_argument("--config-dir", help="Folder with models.yaml and <env>.yaml (default: see ml_jobs.spec).")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override the model spec, e.g. --set training.n_trials=3 (repeatable).",
    )
    p.add_argument(
        "--local-root", help="Local project folder (default: $MLOPS_LOCAL_ROOT or ./.local/<env>)."
    )
    return p


def add_param_option(p: argparse.ArgumentParser) -> None:
    """``--param k=v`` (repeatable): fixed hyperparameters that skip the search (train, retrain)."""
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Fix a hyperparameter and skip the search, e.g. --param max_iter=100 (repeatable).",
    )


def key_values(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """``["max_iter=50"]`` -> ``{"max_iter": 50}`` (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError.single(flag, (), "expected key=value", pair)
        out[key.strip()] = yaml.safe_load(raw)
    return out


@dataclass(frozen=True)
class Context:
    spec: ResolvedSpec
    runtime: Runtime

    def client(self) -> MlflowClient:
        from ml_jobs.registry.client import connect

        return connect(self.runtime)


def context(args: argparse.Namespace) -> Context:
    spec = resolve(args.model, args.env, args.config_dir, parse_overrides(args.overrides))
    return Context(spec, get_runtime(args.env, root=args.local_root, catalog=spec.catalog))


def actor() -> str:
    """Who is acting: set by CI or the job (``MLOPS_ACTOR``), else the OS user."""
    return os.environ.get("MLOPS_ACTOR") or os.environ.get("USER") or "unknown"


_UNREACHABLE_HINTS = (
    "Max retries exceeded",
    "Connection refused",
    "Failed to establish a new connection",
    "TEMPORARILY_UNAVAILABLE",
    "timed out",
)


def unreachable(exc: BaseException) -> bool:
    """True when the exception (or one it came from) says a service could not be reached."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | TimeoutError) or type(seen).__name__ in {
            "ConnectionError",
            "ConnectTimeout",
            "ReadTimeout",
        }:
            return True
        if any(hint in str(seen) for hint in _UNREACHABLE_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def run(job: Callable[[], tuple[int, dict[str, Any]]]) -> int:
    """Run ``job`` (returns exit code and a JSON-able result) and map failures to exit codes."""
    logging.basicConfig(
        level=os.environ.get("MLOPS_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code, result = job()
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except JobError as exc:
        print(f"{type(exc).__name__.lower()}: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if unreachable(exc):
            print(
                f"infraerror: a service stopped answering mid-job: {exc}. Aliases are moved last, so they "
                "are as they were; re-run the job.",
                file=sys.stderr,
            )
            return EXIT_INFRA
        traceback.print_exc()
        return EXIT_BUG
    print(json.dumps(result, default=str, sort_keys=True))
    return code if code is not None else EXIT_OK
