"""The wheel carries the code version it was built from, and training records it.

Wheels are built as the review and ``make wheel`` build them (hatchling, ``SOURCE_DATE_EPOCH`` pinned)
from a git repository holding a copy of the project. What it proves: the wheel's
``mlops_spec/_build_info.json`` names the newest commit that changed what the wheel holds; a commit
that only edits documentation leaves the wheel byte for byte the same (the same artifact path in every
environment), the same commit built twice gives the same bytes, a code commit names itself, an
uncommitted edit is marked dirty with a digest of the content; training tags its run and version with
the version the installed wheel carries, and a new code version is trained again instead of reused.
What it does not prove: a real job cluster's install (the installed file is read from an unpacked wheel).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from infra.review.workspace import _env, _wheel_command
from mlops_spec import build_info
from tests.review.conftest import commit_all, edit_text, git, make_project_repo


def build(tree: Path, out: Path) -> Path:
    done = subprocess.run(_wheel_command(tree, out), cwd=tree, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    return wheel


def carried(wheel: Path) -> dict:
    return json.loads(zipfile.ZipFile(wheel).read(build_info.WHEEL_PATH))


def digest(wheel: Path) -> str:
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    return make_project_repo(tmp_path_factory.mktemp("build-info"), repo_root)


def test_the_wheel_names_the_commit_of_its_code_and_a_docs_commit_changes_no_byte(
    repo: Path, tmp_path: Path
) -> None:
    base = git(repo, "rev-parse", "HEAD")
    first = build(repo, tmp_path / "first")
    assert carried(first) | {"source_digest": None} == {
        "commit": base,
        "dirty": False,
        "shallow": False,
        "code_version": base,
        "source_digest": None,
    }
    for doc in ("README.md", "ml_jobs/README.md"):
        (repo / doc).write_text((repo / doc).read_text() + "\nA paragraph added later.\n")
    docs = commit_all(repo, "docs only")
    assert docs != base
    for path in repo.rglob("*.py"):  # the same commit on another checkout: other mtimes
        os.utime(path, (1_700_000_000, 1_700_000_000))
    again = build(repo, tmp_path / "after-docs")
    assert digest(again) == digest(first)

    edit_text(repo / "ml_jobs" / "train.py", '"""', '"""Changed later. ')
    code = commit_all(repo, "code")
    changed = build(repo, tmp_path / "after-code")
    assert carried(changed)["commit"] == carried(changed)["code_version"] == code
    assert digest(changed) != digest(first)


def test_an_uncommitted_edit_is_a_dirty_version_with_its_own_digest(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    target = repo / "mlops_spec" / "naming.py"
    original = target.read_text()
    try:
        target.write_text(original + "\n# local edit one\n")
        one = build_info.compute(repo)
        target.write_text(original + "\n# local edit two\n")
        two = build_info.compute(repo)
    finally:
        target.write_text(original)
    assert one.dirty and one.commit == head and one.code_version == f"{head}+dirty.{one.source_digest[:12]}"
    assert two.code_version != one.code_version
    assert build_info.compute(repo).code_version == head


def test_a_tree_without_git_is_versioned_by_its_content(tmp_path: Path, repo: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    info = build_info.compute(copy)
    assert info.commit is None and info.code_version == f"source.{info.source_digest[:16]}"
    assert info.source_digest == build_info.compute(repo).source_digest


def test_the_installed_wheel_answers_for_the_code_version(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = build(repo, tmp_path / "dist")
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    info = build_info.installed(unpacked / "mlops_spec")
    assert info is not None and info.code_version == git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(build_info, "installed", lambda: info)
    monkeypatch.delenv(build_info.CODE_VERSION_ENV, raising=False)
    assert build_info.code_version() == info.code_version
    assert build_info.code_version({build_info.CODE_VERSION_ENV: "explicit"}) == "explicit"


def test_training_records_the_code_version_and_retrains_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

    from ml_jobs.registry.client import TAG_GIT_COMMIT, connect
    from ml_jobs.training import lineage
    from ml_jobs.training.train import train_model
    from tests.ml_jobs.conftest import local_runtime, spec_for, write_churn

    spec = spec_for("dev")
    runtime = local_runtime(tmp_path)
    client = connect(runtime)
    write_churn(runtime, 2000, seed=5)
    fixed = {"max_iter": 20}
    versions = iter(["a" * 40, "a" * 40, "b" * 40])
    monkeypatch.setattr(lineage, "git_commit", lambda: next(versions))
    first = train_model(spec, runtime, client, fixed_params=fixed)
    run = client.get_run(first.run_id)
    mv = client.get_model_version(first.registered_name, first.version)
    assert run.data.tags[TAG_GIT_COMMIT] == mv.tags[TAG_GIT_COMMIT] == "a" * 40
    assert run.data.tags[MLFLOW_GIT_COMMIT] == "a" * 40
    assert train_model(spec, runtime, client, fixed_params=fixed).reused
    newer = train_model(spec, runtime, client, fixed_params=fixed)
    assert not newer.reused and newer.version != first.version
