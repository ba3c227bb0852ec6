"""Fixtures for the review tests: a throwaway git repository holding a copy of the project.

Each test module that needs real synths builds its repository once (module scope): a synth of
the whole app costs several seconds, and the review runs two of them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_PARTS = (
    "stacks", "infra", "mlops_spec", "policies", "ml_jobs", "pyproject.toml", "hatch_build.py", "README.md"
)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "cdktf.out", ".local", "data")


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def copy_project(repo_root: Path, tree: Path) -> Path:
    """The project's stacks, infra, policies and ml_jobs copied into ``tree``, without caches or output."""
    for part in PROJECT_PARTS:
        src = repo_root / part
        if src.is_dir():
            shutil.copytree(src, tree / part, ignore=_IGNORE)
        else:
            shutil.copy2(src, tree / part)
    return tree


def make_project_repo(root: Path, repo_root: Path) -> Path:
    """A git repository with one commit: the project's stacks, infra, policies and ml_jobs."""
    repo = root / "repo"
    repo.mkdir()
    copy_project(repo_root, repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.email", "review-tests@example.com")
    git(repo, "config", "user.name", "review tests")
    git(repo, "config", "commit.gpgsign", "false")
    commit_all(repo, "base")
    return repo


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path}: expected {old!r} in the file the test edits"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def project_repo_factory(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        return make_project_repo(tmp_path_factory.mktemp(name), repo_root)

    return make
