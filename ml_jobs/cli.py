"""Argument parsing and error handling shared by every entry point.

Every job takes ``--model`` and ``--env`` (the stacks pass them as named parameters), optional
``--config-dir`` and repeated ``--set key.path=value`` overrides of the model spec. ``run`` reads
the ``MLOPS_*`` settings once (``ml_jobs.settings``), turns the job's exceptions into the one
exit-code table (``mlops_spec.exit_codes``, see ``ml_jobs.errors``), keeps secrets out of
everything the process prints, and prints the result as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from mlflow import MlflowClient

from ml_jobs import faults, settings
from ml_jobs.errors import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INFRA, EXIT_OK, JobError
from ml_jobs.runtime import Runtime, get_runtime
from ml_jobs.spec import ResolvedSpec, parse_overrides, resolve
from mlops_spec.config import ENV_NAMES, ConfigError

REDACTED = "***"

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
        if not sep or not key.strip():
            raise ConfigError.single(flag, (), "expected key=value", pair)
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError.single(flag, (key.strip(),), "not a YAML scalar", raw) from exc
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
    if spec.model.monitoring.webhook_url:  # a webhook URL in the spec is as secret as one in the environment
        _SECRETS.append(spec.model.monitoring.webhook_url)
    return Context(spec, get_runtime(args.env, root=args.local_root, catalog=spec.catalog))


def actor() -> str:
    """Who is acting: set by CI or the job (``MLOPS_ACTOR``), else the OS user."""
    return settings.current().actor or os.environ.get("USER") or "unknown"


_UNREACHABLE_HINTS = (
    "Max retries exceeded",
    "Connection refused",
    "Failed to establish a new connection",
    "TEMPORARILY_UNAVAILABLE",
    "timed out",
    "database is locked",
)
_CORRUPT_HINTS = (
    "file is not a database",
    "database disk image is malformed",
    "Invalid JSON in log record",
    "Failed to parse",
    "Parquet error",
    "not a Delta table",
)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def unreachable(exc: BaseException) -> bool:
    """True when the exception (or one it came from) says a service could not be reached."""
    for seen in _chain(exc):
        if isinstance(seen, ConnectionError | TimeoutError) or type(seen).__name__ in {
            "ConnectionError",
            "ConnectTimeout",
            "ReadTimeout",
        }:
            return True
        if any(hint in str(seen) for hint in _UNREACHABLE_HINTS):
            return True
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def corrupt(exc: BaseException) -> bool:
    """True when a store (SQLite registry, Delta log) answered with something unreadable."""
    return any(
        any(hint in str(e) for hint in _CORRUPT_HINTS) or type(e).__name__ in ("DeltaProtocolError",)
        for e in _chain(exc)
    )


def read_only(exc: BaseException) -> OSError | None:
    """The OSError when a write was refused by the file system (read-only or not ours)."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in _READ_ONLY:
            return e
        if "readonly database" in str(e):
            return PermissionError(errno.EROFS, "read-only database", None)
    return None


_SECRETS: list[str] = []
"""What the running job must never print: the settings' secrets, and any the spec adds."""


class _Redacting(io.TextIOBase):
    """A text stream that replaces every secret before it reaches the real one."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        for secret in _SECRETS:
            text = text.replace(secret, REDACTED)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")


@contextmanager
def _redacted(secrets: Sequence[str]) -> Iterator[None]:
    """Secrets (``Settings.secrets``, a spec's webhook URL) never reach stdout or stderr, whoever
    prints: us, a library, a traceback. They are also never passed to a print, a log call or a
    record; this is the net under that rule."""
    _SECRETS[:] = [s for s in secrets if s]
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Redacting(sys.stdout), _Redacting(sys.stderr)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [(h, h.stream) for h in handlers if h.stream in saved]
    for handler, stream in streams:
        handler.setStream(_Redacting(stream))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        for handler, stream in streams:
            handler.setStream(stream)


def run(job: Callable[[], tuple[int, dict[str, Any]]]) -> int:
    """Run ``job`` (returns exit code and a JSON-able result) and map failures to exit codes."""
    try:
        current = settings.install(settings.load())
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    faults.reset()
    with _redacted(current.secrets()):
        logging.basicConfig(
            level=current.log_level,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        code, result = _guarded(job)
        if result is None:
            return code
        faults.boundary("job:done")
        print(json.dumps(result, default=str, sort_keys=True))
        return code if code is not None else EXIT_OK


def _guarded(job: Callable[[], tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any] | None]:
    try:
        return job()
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
    except JobError as exc:
        print(f"{type(exc).__name__.lower()}: {exc}", file=sys.stderr)
        return exc.exit_code, None
    except Exception as exc:
        if unreachable(exc):
            first = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
            print(
                f"infraerror: a service stopped answering mid-job (or a store stayed locked): {first}. "
                "Every step is idempotent: re-run the job.",
                file=sys.stderr,
            )
            return EXIT_INFRA, None
        if corrupt(exc):
            print(
                f"infraerror: a store is unreadable (corrupt?): {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0][:500]}",
                file=sys.stderr,
            )
            return EXIT_INFRA, None
        denied = read_only(exc)
        if denied is not None:
            print(
                f"config error: cannot write {denied.filename or 'the local store'}: {denied.strerror}; "
                f"the local root must be writable (--local-root / $MLOPS_LOCAL_ROOT)",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT, None
        traceback.print_exc()
        return EXIT_BUG, None
    return EXIT_BAD_INPUT, None
