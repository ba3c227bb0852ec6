"""Fixtures for the ml_jobs tests: a local project folder with Delta tables and MLflow on SQLite."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ml_jobs.data.generate import generate_churn
from ml_jobs.runtime import Runtime, get_runtime
from ml_jobs.spec import ResolvedSpec, apply_overrides, flat, resolve

MODEL = "marketing_churn_gbm"
# Tests share two cores with other suites: a wall-clock latency budget would make them flaky, so
# the flow tests widen it; the latency gate itself is tested with explicit samples.
TEST_OVERRIDES = {"training": {"n_trials": 2}, "validation": {"max_latency_ms": 5000}}


@pytest.fixture(scope="session", autouse=True)
def _fast_and_quiet() -> Iterator[None]:
    """One OpenMP thread (two cores shared with Spark and other tests), quick retries, no progress bars."""
    from threadpoolctl import threadpool_limits

    saved = {
        k: os.environ.get(k)
        for k in (
            "MLOPS_TRACKING_RETRIES",
            "MLOPS_TRACKING_BACKOFF_SECONDS",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
        )
    }
    os.environ.update(
        {
            "MLOPS_TRACKING_RETRIES": "2",
            "MLOPS_TRACKING_BACKOFF_SECONDS": "0.01",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    with threadpool_limits(1, user_api="openmp"):
        yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module", autouse=True)
def _mlflow_stores_reset() -> Iterator[None]:
    """``connect`` points MLflow's process-wide fluent API at a test store; later modules (and other
    packages' tests) must start from MLflow's defaults and the environment again."""
    import mlflow

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None = back to env var / default
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def spec_for(env: str, **overrides: dict) -> ResolvedSpec:
    """The model's spec for ``env`` with the test tuning applied.

    Applied below ``resolve``'s governance check (as ``demo`` does): the widened latency budget is a
    property of a shared test machine, and a job-time ``--set`` in prod may not loosen it
    (tests/ml_jobs/test_overrides.py).
    """
    merged = {k: dict(v) for k, v in TEST_OVERRIDES.items()}
    for section, values in overrides.items():
        merged.setdefault(section, {}).update(values)
    base = resolve(MODEL, env)
    return replace(base, model=apply_overrides(base.model, merged), overrides=flat(merged))


def local_runtime(root: Path, env: str = "dev") -> Runtime:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DATABRICKS_RUNTIME_VERSION")
    }
    return get_runtime(env, root=root, catalog=f"mlops_{env}", environ=environ)


def write_churn(runtime: Runtime, rows: int, seed: int, mode: str = "append") -> int:
    return runtime.write_table(generate_churn(rows, seed=seed), "features", "churn_training", mode=mode)


def as_local_user(runtime: Runtime, user: str, *groups: str) -> Runtime:
    """``runtime`` acting as local OS user ``user`` standing for ``groups`` (MLOPS_LOCAL_GROUPS).

    The user is what ``getpass.getuser`` answers: it reads ``LOGNAME`` first, so the caller sets it
    (``monkeypatch.setenv("LOGNAME", user)``); this returns the runtime with the groups.
    """
    assert os.environ.get("LOGNAME") == user, "set LOGNAME to the user first"
    return replace(runtime, settings=replace(runtime.settings, local_groups=groups))


def sign_off(spec: ResolvedSpec, runtime: Runtime, client: Any, version: str, people: Sequence[str]) -> None:
    """Sign every step of the version's approval chain, step n by ``people[n]`` in the step's group."""
    from ml_jobs.registry.promotion import approval_chain, approve

    chain = approval_chain(spec, client.get_model_version(runtime.registered_name(spec.model.name), version))
    with pytest.MonkeyPatch.context() as mp:
        for person, role in zip(people, chain, strict=False):
            mp.setenv("LOGNAME", person)
            approve(
                spec, as_local_user(runtime, person, spec.env.groups[role]), client, version, "reviewed card"
            )
