"""What produced a model: code commit, config hash, data table and version, and the key built from them."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml_jobs import settings
from mlops_spec.config.model_spec import ModelSpec


def git_commit() -> str:
    """Commit of the code: ``MLOPS_GIT_COMMIT`` (CI sets it when it builds the wheel; a job cluster
    has no checkout to ask), else the checkout's HEAD."""
    return settings.current().git_commit or _checkout_commit()


@functools.cache
def _checkout_commit() -> str:
    """Read once per process so a concurrent commit cannot change a key mid-job."""
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def training_config(spec: ModelSpec) -> dict[str, Any]:
    """The parts of the spec that change the trained model (not schedules, gates or serving)."""
    t = spec.training
    return {
        "data": spec.data.model_dump(mode="json"),
        "training": {"n_trials": t.n_trials, "seed": t.seed, "test_size": t.test_size},
    }


def stable_hash(payload: Any, length: int = 16) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def config_hash(spec: ModelSpec, fixed_params: Mapping[str, Any] | None = None) -> str:
    return stable_hash({**training_config(spec), "fixed_params": dict(fixed_params or {})})


def idempotency_key(table: str, version: int, cfg_hash: str, code_version: str) -> str:
    """Same data version + same config + same code = same model: training registers nothing new."""
    payload = {"table": table, "version": int(version), "config": cfg_hash, "code": code_version}
    return stable_hash(payload, 32)
