"""One runtime, tested: the constraints file names the runtime of ``mlops_spec.dbr``, the environment
the tests run in has exactly its pinned versions, and every policy fixes that runtime.

What it proves: ``make test`` (the lock, installed by ``make install``) runs the runtime's versions.
What it does not prove: that Databricks ships these versions (the file cites where they come from).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from mlops_spec.config import load_environment
from mlops_spec.dbr import CONSTRAINTS_FILE, CPU_ML_RUNTIME, DBR_VERSION, GPU_ML_RUNTIME

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    lines = (ROOT / CONSTRAINTS_FILE).read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_the_tests_run_the_constrained_versions() -> None:
    assert DBR_VERSION in CONSTRAINTS_FILE and "pyspark" in pins()
    assert {name: version(name) for name in pins()} == pins()


def test_every_policy_fixes_the_platform_runtime() -> None:
    for env in ("dev", "staging", "prod"):
        profiles = load_environment(env, ROOT / "stacks").compute.profiles()
        for name, profile in profiles.items():
            assert profile.runtime == (GPU_ML_RUNTIME if name == "gpu_training" else CPU_ML_RUNTIME)
