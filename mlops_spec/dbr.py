"""The one Databricks Runtime the platform runs and tests against.

Every cluster policy fixes ``spark_version`` to this runtime (``ComputeProfile.runtime`` left unset is
computed from here), the job wheel's requirements are ranges it satisfies, and
``constraints/dbr-<version>-ml.txt`` pins its versions of the libraries the jobs use so that
``make test`` runs the ml_jobs tests against them. Changing runtimes is a change to this module and to
that constraints file (``tests/ml_jobs/test_runtime_constraints.py`` holds them together).

Databricks Runtime 18 LTS for Machine Learning (``18.0.x-cpu-ml-scala2.13``): Apache Spark 4.1.0,
Scala 2.13, MLflow 3.8.1, end of support 2029-06-10 (Databricks "Runtime release notes versions and
compatibility" page and its MLflow compatibility matrix). No LTS ML runtime ships an MLflow whose
scikit-learn flavour saves skops (3.9+): 18 LTS ships 3.8.1, 17.3 LTS 3.0.1 (measured: the suite fails
under both), so mlflow-skinny is the one library a task upgrades (constraints file, exception).
"""

from __future__ import annotations

DBR_VERSION = "18.0"
SCALA = "2.13"
CPU_ML_RUNTIME = f"{DBR_VERSION}.x-cpu-ml-scala{SCALA}"
GPU_ML_RUNTIME = f"{DBR_VERSION}.x-gpu-ml-scala{SCALA}"
CONSTRAINTS_FILE = f"constraints/dbr-{DBR_VERSION}-lts-ml.txt"
"""Relative to the repository root."""


def ml_runtime(gpu: bool) -> str:
    """The ML runtime for a policy (GPU training gets the GPU image of the same release)."""
    return GPU_ML_RUNTIME if gpu else CPU_ML_RUNTIME
