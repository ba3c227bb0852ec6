"""Every ``MLOPS_*`` environment variable the jobs read, parsed once into typed settings.

``load(environ)`` is pure; the entry points call it once per run (``cli.run``) and install the
result, so a bad value fails the job before it touches anything: exit 2, naming the variable, the
value and what is allowed. Library code reads ``current()`` (or ``Runtime.settings``), never
``os.environ``. ``MLOPS_ENVS`` belongs to the stacks (``make synth``) and is not read here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mlops_spec.config import ENV_NAMES, ConfigError
from mlops_spec.config.errors import Problem

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    local_root: Path | None = None
    """``MLOPS_LOCAL_ROOT``: local project folder (default ``./.local/<env>``)."""
    config_dir: Path | None = None
    """``MLOPS_CONFIG_DIR``: folder with models.yaml and <env>.yaml."""
    env: str | None = None
    """``MLOPS_ENV``: set by the stacks on job clusters; informational."""
    actor: str | None = None
    """``MLOPS_ACTOR``: who acts (CI or the job); default the OS user."""
    local_groups: tuple[str, ...] = ()
    """``MLOPS_LOCAL_GROUPS``: local mode only, the workspace groups (comma-separated display names) the
    OS user stands for when approving; a local machine has no directory to ask. Ignored on Databricks,
    where the workspace says who the caller is and which groups they are in."""
    log_level: str = "INFO"
    """``MLOPS_LOG_LEVEL``."""
    git_commit: str | None = None
    """``MLOPS_GIT_COMMIT``: set by CI when it builds the wheel; a cluster has no checkout to ask."""
    tracking_retries: int = 4
    """``MLOPS_TRACKING_RETRIES``: attempts to reach the tracking server before exit 3."""
    tracking_backoff_seconds: float = 2.0
    """``MLOPS_TRACKING_BACKOFF_SECONDS``: first wait between those attempts (doubles)."""
    store_timeout_seconds: float = 30.0
    """``MLOPS_STORE_TIMEOUT_SECONDS``: how long a local SQLite store call waits for a lock."""
    webhook_url: str | None = field(default=None, repr=False)
    """``MLOPS_WEBHOOK_URL``: alert webhook (a secret: never printed, logged or recorded)."""
    webhook_attempts: int = 3
    """``MLOPS_WEBHOOK_ATTEMPTS``: tries per alert before it is recorded as failed."""
    webhook_backoff_seconds: float = 1.0
    """``MLOPS_WEBHOOK_BACKOFF_SECONDS``: first wait between webhook tries (doubles)."""
    lock_timeout_seconds: float = 3600.0
    """``MLOPS_LOCK_TIMEOUT_SECONDS``: how long a retraining waits for another one of the same model."""
    write_retries: int = 5
    """``MLOPS_WRITE_RETRIES``: attempts of a Delta MERGE that lost a concurrent commit."""
    fault_at: str | None = None
    """``MLOPS_FAULT_AT``: fault injection, ``<boundary>[@<n>]`` (see ``ml_jobs.faults``)."""
    fault_trace: Path | None = None
    """``MLOPS_FAULT_TRACE``: file to which every boundary passed is appended (see ``ml_jobs.faults``)."""
    fault_pause: str | None = None
    """``MLOPS_FAULT_PAUSE``: ``<boundary>[@<n>]=<seconds>``, wait there (lines up concurrent runs)."""

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in output, logs or records."""
        return tuple(s for s in (self.webhook_url,) if s)


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def _names(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not names:
        raise ValueError("empty")
    return names


def _path(raw: str) -> Path:
    return Path(_text(raw)).expanduser()


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if value < low:
            raise ValueError(f"must be >= {low}")
        return value

    return parse


def _seconds(raw: str) -> float:
    value = float(raw.strip())
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a finite number of seconds >= 0")
    return value


def _choice(allowed: tuple[str, ...], upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip()
        if value not in allowed:
            raise ValueError("not allowed")
        return value

    return parse


def _url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _pause(raw: str) -> str:
    name, sep, seconds = raw.strip().rpartition("=")
    if not sep or not name:
        raise ValueError("expected <boundary>[@<n>]=<seconds>")
    _seconds(seconds)
    return raw.strip()


# variable -> (field, parser, what is allowed, whether the value may be shown)
_VARIABLES: dict[str, tuple[str, Callable[[str], Any], str, bool]] = {
    "MLOPS_LOCAL_ROOT": ("local_root", _path, "a folder path", True),
    "MLOPS_CONFIG_DIR": ("config_dir", _path, "a folder path", True),
    "MLOPS_ENV": ("env", _choice(ENV_NAMES), ", ".join(ENV_NAMES), True),
    "MLOPS_ACTOR": ("actor", _text, "a non-empty name", True),
    "MLOPS_LOCAL_GROUPS": ("local_groups", _names, "comma-separated group names", True),
    "MLOPS_LOG_LEVEL": ("log_level", _choice(LOG_LEVELS, upper=True), ", ".join(LOG_LEVELS), True),
    "MLOPS_GIT_COMMIT": ("git_commit", _text, "a commit id", True),
    "MLOPS_TRACKING_RETRIES": ("tracking_retries", _int_at_least(1), "an integer >= 1", True),
    "MLOPS_TRACKING_BACKOFF_SECONDS": ("tracking_backoff_seconds", _seconds, "seconds >= 0", True),
    "MLOPS_STORE_TIMEOUT_SECONDS": ("store_timeout_seconds", _seconds, "seconds >= 0", True),
    "MLOPS_WEBHOOK_URL": ("webhook_url", _url, "an http(s) URL", False),
    "MLOPS_WEBHOOK_ATTEMPTS": ("webhook_attempts", _int_at_least(1), "an integer >= 1", True),
    "MLOPS_WEBHOOK_BACKOFF_SECONDS": ("webhook_backoff_seconds", _seconds, "seconds >= 0", True),
    "MLOPS_LOCK_TIMEOUT_SECONDS": ("lock_timeout_seconds", _seconds, "seconds >= 0", True),
    "MLOPS_WRITE_RETRIES": ("write_retries", _int_at_least(1), "an integer >= 1", True),
    "MLOPS_FAULT_AT": ("fault_at", _text, "<boundary>[@<n>]", True),
    "MLOPS_FAULT_TRACE": ("fault_trace", _path, "a file path", True),
    "MLOPS_FAULT_PAUSE": ("fault_pause", _pause, "<boundary>[@<n>]=<seconds>", True),
}
assert {f for f, *_ in _VARIABLES.values()} == {f.name for f in fields(Settings)}


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse every ``MLOPS_*`` variable the jobs know; ConfigError lists each bad one (exit 2)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for variable, (name, parse, allowed, show) in _VARIABLES.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            shown = raw if show else "<redacted>"
            problems.append(Problem("environment", (variable,), _message(exc), shown, allowed))
    if problems:
        raise ConfigError(problems)
    return Settings(**values)


def _message(exc: ValueError) -> str:
    text = str(exc)
    # int() and float() say "invalid literal for int() with base 10: 'x'"; the value is shown anyway.
    return "not a number" if "invalid literal" in text or "could not convert" in text else text


_current: list[Settings] = []


def install(settings: Settings) -> Settings:
    """Make ``settings`` what ``current()`` returns (the entry points do this once per run)."""
    _current[:] = [settings]
    logging.getLogger("ml_jobs").debug("settings installed")
    return settings


def current() -> Settings:
    """The installed settings; read from the process environment once if none were installed."""
    if not _current:
        install(load())
    return _current[0]


def reset() -> None:
    """Forget the installed settings (the next ``current()`` reads the environment again)."""
    _current.clear()
