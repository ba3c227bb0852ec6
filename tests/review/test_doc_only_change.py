"""A documentation-only change is not a production change: the job wheel's bytes, which name the
folder every environment uploads it to (``infra/constructs/artifact.py``), cover what the jobs run
and nothing else.

The wheel is built the way the review builds each side (``infra.review.workspace._wheel_command``,
``SOURCE_DATE_EPOCH`` pinned) from a copy of the project. What this proves: editing the README or
``ml_jobs/README.md`` leaves the wheel byte for byte the same, hence the same synthesized path and no
``databricks_file`` replacement in any review; editing job code or the bundled config still makes a
new wheel. What it does not prove: that hatchling stays reproducible across its own versions.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra.review.workspace import _env, _wheel_command
from tests.review.conftest import copy_project, edit_text


def build(tree: Path, out: Path) -> Path:
    done = subprocess.run(_wheel_command(tree, out), cwd=tree, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    return wheel


def digest(wheel: Path) -> str:
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    return copy_project(repo_root, tmp_path_factory.mktemp("wheel-project"))


def test_a_documentation_edit_leaves_the_wheel_byte_for_byte_the_same(project: Path, tmp_path: Path) -> None:
    before = build(project, tmp_path / "before")
    for doc in ("README.md", "ml_jobs/README.md"):
        (project / doc).write_text((project / doc).read_text() + "\nA paragraph added in review.\n")
    after = build(project, tmp_path / "after")
    assert digest(before) == digest(after)


def test_the_wheel_holds_no_documentation(project: Path, tmp_path: Path) -> None:
    wheel = zipfile.ZipFile(build(project, tmp_path / "dist"))
    assert [n for n in wheel.namelist() if n.endswith(".md")] == []
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    text = wheel.read(metadata).decode()
    assert "Description-Content-Type" not in text and "make demo" not in text  # no README body


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("ml_jobs/train.py", '"""', '"""Changed in review. '),
        ("stacks/models.yaml", "models:", "models:  # changed in review"),
    ],
    ids=["job code", "bundled config"],
)
def test_what_the_jobs_run_still_makes_a_new_wheel(
    project: Path, tmp_path: Path, path: str, old: str, new: str
) -> None:
    before = digest(build(project, tmp_path / "before"))
    original = (project / path).read_text()
    edit_text(project / path, old, new)
    try:
        assert digest(build(project, tmp_path / "after")) != before
    finally:
        (project / path).write_text(original)
