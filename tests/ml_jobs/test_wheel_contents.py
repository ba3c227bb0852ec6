"""The job wheel ships what the jobs run: ``ml_jobs``, the shared spec and the bundled config, nothing of
``infra`` (guardrails, review, cdktf constructs), so a job cluster installs no cdktf and runs no code that
only the deploy needs."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

ML_JOBS = Path(__file__).resolve().parents[2] / "ml_jobs"


def test_the_wheel_holds_only_ml_jobs_the_spec_and_the_bundled_config(platform_wheel: Path) -> None:
    names = zipfile.ZipFile(platform_wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names if not n.startswith("dbx_mlops_platform-")}
    assert top_level == {"ml_jobs", "mlops_spec"}
    assert "ml_jobs/_bundled_config/models.yaml" in names
    assert "ml_jobs/_bundled_policies/rbac/roles.yaml" in names


@pytest.mark.parametrize("path", sorted(ML_JOBS.rglob("*.py")), ids=lambda p: str(p.relative_to(ML_JOBS)))
def test_ml_jobs_never_imports_infra(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] != "infra", f"{path}:{node.lineno} imports {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] != "infra", f"{path}:{node.lineno} imports {alias.name}"
