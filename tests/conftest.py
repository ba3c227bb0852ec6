"""Fixtures shared by the whole suite.

Expensive things start once per run: a local Spark session costs about 10 s, so every test that
needs Spark takes the session-scoped ``spark`` fixture instead of building its own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from infra.guardrails import Policies

REPO_ROOT = Path(__file__).resolve().parent.parent
Docs = dict[str, dict[str, Any]]
"""Parsed ``cdk.tf.json`` documents by stack name (``dev``, ``prod``, ``account``)."""

# jsii prints a banner on every Node process for Node 20 (end of life); it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session for the whole run (``local[2]``, small shuffle, no UI)."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    # Python UDFs (mlflow's spark_udf) run in worker processes: the test interpreter, not PATH's python3.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("mlops-platform-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def platform_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ml_jobs wheel, built once per run exactly as `make wheel` builds it (reproducibly)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out)]
    done = subprocess.run([*cmd, "."], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{done.stderr[-3000:]}")
    (wheel,) = out.glob("dbx_mlops_platform-*.whl")
    return wheel


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory, platform_wheel: Path) -> Path:
    """Every shipped environment synthesized once per run; tests read ``stacks/<env>/cdk.tf.json``."""
    from stacks.main import build_app

    out = tmp_path_factory.mktemp("cdktf.out")
    build_app(outdir=str(out), wheel=platform_wheel).synth()
    return out


def synthesized_docs(out: Path) -> Docs:
    """Every ``stacks/<name>/cdk.tf.json`` of a synth output folder, parsed, by stack name."""
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "stacks").glob("*/cdk.tf.json"))}


@pytest.fixture(scope="session")
def shipped_docs(synth_dir: Path) -> Docs:
    """The shipped stacks as documents, parsed once per run: deep-copy before weakening one."""
    return synthesized_docs(synth_dir)


@pytest.fixture(scope="session")
def policies(repo_root: Path) -> Policies:
    """The shipped policies: the tests check the real parameters, not a copy."""
    from infra.guardrails import load_policies

    return load_policies(repo_root / "policies")
