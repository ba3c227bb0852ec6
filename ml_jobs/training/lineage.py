"""What produced a model: code commit, config hash, data table and version, and the key built from them."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mlops_spec import build_info
from mlops_spec.config.model_spec import ModelSpec

TAG_SAMPLE_ROWS = "data_sample_rows"  # Unity Catalog tag keys take no dots (registry.client)
"""On runs and versions trained on a sample (make smoke): such a version never becomes the challenger."""


@functools.cache
def git_commit() -> str:
    """The code version, read once per process so a concurrent commit cannot change a key mid-job: the
    commit the installed wheel was built from, or the checkout's (``mlops_spec.build_info``)."""
    return build_info.code_version()


def source_tags(code_version: str) -> dict[str, str]:
    """MLflow's own commit tag (the UI shows it) when the version is a plain commit."""
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

    is_commit = len(code_version) == 40 and all(c in "0123456789abcdef" for c in code_version)
    return {MLFLOW_GIT_COMMIT: code_version} if is_commit else {}


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


def config_hash(spec: ModelSpec, fixed_params: Mapping[str, Any] | None = None, sample_rows: int = 0) -> str:
    """A sample is part of the configuration (0, the whole table, leaves the hash as it always was)."""
    payload = {**training_config(spec), "fixed_params": dict(fixed_params or {})}
    return stable_hash(payload | ({"sample_rows": int(sample_rows)} if sample_rows else {}))


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows drawn with the spec's seed (same table version, same sample), in table order."""
    if rows >= len(frame):
        return frame
    return frame.sample(n=rows, random_state=seed).sort_index()


def idempotency_key(table: str, version: int, cfg_hash: str, code_version: str) -> str:
    """Same data version + same config + same code = same model: training registers nothing new."""
    payload = {"table": table, "version": int(version), "config": cfg_hash, "code": code_version}
    return stable_hash(payload, 32)
