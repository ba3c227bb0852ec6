"""Worlds the chaos tests start from, built once per run, and each job's fault-free reference.

A world is a local project folder (Delta tables, MLflow on SQLite). Every case copies one, so the
killed run, its re-run and the reference all start from the same bytes.

``make test`` runs a bounded selection (the boundaries of the failures issue 12 reproduced, one
random kill, the concurrency of promote and monitor); ``make chaos`` (``CHAOS=full``) kills every
job at every boundary it declares and at random points, and runs two of every job at once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from . import harness as h

FULL = os.environ.get("CHAOS") == "full"
PRODUCTION_START = datetime(2025, 3, 2, tzinfo=UTC)
WEAK = {"max_iter": 15, "max_leaf_nodes": 4}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip = pytest.mark.skip(reason="full chaos run only: make chaos (CHAOS=full)")
    for item in items:
        if "chaos_full" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos_full: part of the full fault-injection run (make chaos) only")


@dataclass
class Scenario:
    job: str
    world: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Reference:
    """A fault-free run of a scenario: what it printed, the world it left, the boundaries it passed."""

    run: h.Run
    world: dict[str, Any]
    boundaries: list[str]


def _spec() -> Any:
    from ml_jobs.spec import parse_overrides, resolve

    pairs = [h.COMMON[i + 1] for i in range(0, len(h.COMMON), 2)]
    return resolve(h.MODEL, "dev", overrides=parse_overrides(pairs))


def _runtime(root: Path) -> Any:
    from ml_jobs.runtime import get_runtime

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_", "DATABRICKS_"))}
    return get_runtime("dev", root=root, catalog="mlops_dev", environ=environ)


def _models(spec: Any) -> list[Any]:
    from mlops_spec.config import load_models

    return [spec.model if m.name == h.MODEL else m for m in load_models("dev", spec.config_dir)]


def _quiet(_: str) -> None:
    pass


def _build(root: Path, name: str) -> None:
    """Each world extends the one before it (copied), with the library calls the jobs make."""
    from ml_jobs.data.generate import DriftSpec, generate_churn
    from ml_jobs.features.demo import add_feature_rows, load_training_data
    from ml_jobs.registry.client import connect
    from ml_jobs.registry.promotion import promote
    from ml_jobs.scoring import score_batch, write_labels
    from ml_jobs.training.train import train_model
    from ml_jobs.validation.validate import validate_version

    spec, runtime = _spec(), _runtime(root)
    client = connect(runtime)
    if name == "data":  # through the model's feature and label tables, as its scheduled jobs do
        start = PRODUCTION_START - timedelta(days=40)
        load_training_data(runtime, spec.model, _models(spec), generate_churn(3000, 1, start, 40), _quiet)
    elif name == "trained":
        train_model(spec, runtime, client, fixed_params=WEAK)
    elif name == "promotable":  # champion v1; v2 trained on more data and validated against it
        validate_version(spec, runtime, client)
        promote(spec, runtime, client, actor="setup")
        more = generate_churn(2000, 2, PRODUCTION_START - timedelta(days=20), 20)
        runtime.merge_table(more, "features", "churn_training", keys=("customer_id", "event_ts"))
        train_model(spec, runtime, client, fixed_params={"max_iter": 40, "max_leaf_nodes": 8})
        validate_version(spec, runtime, client)
    elif name == "two_challengers":  # v2 and v3 both validated against champion v1
        train_model(spec, runtime, client, fixed_params={"max_iter": 60, "max_leaf_nodes": 12})
        validate_version(spec, runtime, client)
    elif name == "deployable":  # champion v2, previous champion v1
        promote(spec, runtime, client, actor="setup")
    elif name == "production":  # champion v1, four days of traffic drifting from day 2, labels
        validate_version(spec, runtime, client)
        promote(spec, runtime, client, actor="setup")
        mix = {"contract_type": {"month_to_month": 0.8, "one_year": 0.1, "two_year": 0.1}}
        drift = DriftSpec(0, {"monthly_charges": 1.0, "support_calls": 1.0}, category_mix=mix, concept=1.0)
        for day in range(4):
            day_start = PRODUCTION_START + timedelta(days=day)
            frame = generate_churn(700, 100 + day, day_start, 1, drift if day >= 2 else None)
            add_feature_rows(runtime, spec.model, _models(spec), frame)  # the daily feature job
            logged = score_batch(spec, runtime, client, frame)
            write_labels(runtime, h.MODEL, logged, frame["churned"], frame["event_ts"] + timedelta(hours=20))
    else:
        raise KeyError(name)


PARENT = {
    "data": None,
    "trained": "data",
    "promotable": "trained",
    "two_challengers": "promotable",
    "deployable": "promotable",
    "production": "trained",
}


class Worlds:
    """Built on first use, each from a copy of its parent world."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.built: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        if name not in self.built:
            parent = PARENT[name]
            root = self.base / name
            if parent is not None:
                shutil.copytree(self.path(parent), root)
            _build(root, name)
            self.built[name] = root
        return self.built[name]

    def copy(self, name: str, dst: Path) -> Path:
        shutil.copytree(self.path(name), dst)
        return dst


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Worlds:
    return Worlds(tmp_path_factory.mktemp("chaos-worlds"))


SCENARIOS = {
    "train": Scenario("train", "data", h.FAST_PARAMS),
    "validate": Scenario("validate", "trained"),
    "promote": Scenario("promote", "promotable", ("--actor", "chaos")),
    "monitor": Scenario("monitor", "production"),
    "retrain": Scenario("retrain", "production", (*h.FAST_PARAMS, "--reason", "chaos")),
}
if FULL:  # a Spark session per run (spark_udf): too slow for the bounded run
    SCENARIOS["score"] = Scenario("score", "promotable")


class References:
    def __init__(self, worlds: Worlds, base: Path) -> None:
        self.worlds, self.base, self.done = worlds, base, {}

    def get(self, name: str) -> Reference:
        if name not in self.done:
            scenario = SCENARIOS[name]
            root = self.worlds.copy(scenario.world, self.base / f"ref-{name}")
            trace = self.base / f"ref-{name}.trace"
            run = h.expect_ok(h.run_job(scenario.job, scenario.args, root, trace=trace, env=scenario.env))
            assert not h.violations(root), h.violations(root)
            self.done[name] = Reference(run, h.world(root), h.boundaries(trace))
        return self.done[name]


@pytest.fixture(scope="session")
def references(worlds: Worlds, tmp_path_factory: pytest.TempPathFactory) -> References:
    return References(worlds, tmp_path_factory.mktemp("chaos-refs"))


# -- the serving fake for deploy ------------------------------------------------------------------------
@contextmanager
def serving_endpoint(split: dict[str, int]) -> Iterator[tuple[Any, str]]:
    """The serving fake of ``tests/ml_jobs/serving`` on 127.0.0.1, with the dev endpoint serving ``split``."""
    from ..serving.conftest import ENDPOINT, FakeServing, serving

    fake = FakeServing()
    fake.add(ENDPOINT, split)
    with serving(fake) as served:
        yield served
