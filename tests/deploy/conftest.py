"""Fixtures for the deploy tests: a fake ``terraform`` first on PATH, and a small stack in a git repo.

The fake (``fake_terraform.py``) records every call; tests read the record to see which plan file
Terraform was asked to apply. It proves the tool's contract with the CLI, never a real deploy.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.review.conftest import commit_all, git

FAKE = Path(__file__).with_name("fake_terraform.py")
STACK_DOC = {
    "//": {"metadata": {"backend": "local", "stackName": "staging", "version": "0.21.0"}},
    "terraform": {
        "backend": {"local": {"path": "../../../terraform.staging.tfstate"}},
        "required_providers": {"databricks": {"source": "databricks/databricks", "version": "1.99.0"}},
    },
    "provider": {"databricks": [{"host": "https://staging.example.cloud.databricks.com"}]},
    "resource": {
        "databricks_schema": {"features": {"catalog_name": "mlops_staging", "name": "features"}},
        "databricks_file": {
            "wheel": {"path": "/Volumes/x/y/z.whl", "source": "assets/wheel/z.whl", "md5": "${filemd5(x)}"}
        },
    },
}


@dataclass(frozen=True)
class FakeTerraform:
    bin_dir: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_TF_LOG": str(self.log),
            **extra,
        }

    def calls(self, command: str | None = None) -> list[dict]:
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [e for e in entries if command is None or e["command"] == command]


@pytest.fixture
def fake_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTerraform:
    """``terraform`` on PATH (for in-process calls and subprocesses given ``.env()``)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    shim = bin_dir / "terraform"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    fake = FakeTerraform(bin_dir, tmp_path / "terraform-calls.jsonl")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TF_LOG", str(fake.log))
    return fake


def init_repo(repo: Path) -> None:
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.email", "deploy-tests@example.com")
    git(repo, "config", "user.name", "deploy tests")
    git(repo, "config", "commit.gpgsign", "false")


@dataclass(frozen=True)
class SmallProject:
    repo: Path
    synth_dir: Path
    plans_dir: Path

    @property
    def stack_dir(self) -> Path:
        return self.synth_dir / "stacks" / "staging"


@pytest.fixture
def small_project(tmp_path: Path) -> SmallProject:
    """A git repo with one commit and a synthesized ``staging`` stack (two resources and an asset)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    init_repo(repo)
    (repo / ".gitignore").write_text("cdktf.out/\nplans/\n*.tfstate\n")
    (repo / "README.md").write_text("a project\n")
    commit_all(repo, "base")
    stack = repo / "cdktf.out" / "stacks" / "staging"
    (stack / "assets" / "wheel").mkdir(parents=True)
    (stack / "assets" / "wheel" / "z.whl").write_bytes(b"wheel bytes v1")
    (stack / "cdk.tf.json").write_text(json.dumps(STACK_DOC, indent=2))
    return SmallProject(repo, repo / "cdktf.out", repo / "plans")
