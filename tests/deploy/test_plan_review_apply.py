"""Done-when of issue 15: plan -> review -> apply on the project's real stacks, with a fake
``terraform`` on PATH. The review (guardrails and ``infra.review``) reads the plan JSON that
``terraform show -json`` printed for the saved plan file; apply hands Terraform that very file, and
refuses it once the checkout moved to another commit or the plan is older than the limit.

Proves: the reviewed JSON, the manifest and the applied plan file are bound by their SHA-256, end to
end through the command-line tools CI runs. Does not prove: that the Databricks provider would plan
or apply these stacks (it cannot be installed here; the fake derives its plan from cdk.tf.json).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from infra.deploy.bundle import utc_now
from mlops_spec.exit_codes import EXIT_OK, EXIT_REFUSED
from tests.review.conftest import commit_all, make_project_repo

pytestmark = pytest.mark.slow
ENV = "staging"


def run(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def project(tmp_path: Path, repo_root: Path, platform_wheel: Path, fake_terraform) -> dict:
    repo = make_project_repo(tmp_path, repo_root)
    (repo / ".gitignore").write_text("cdktf.out/\n*.tfstate\n__pycache__/\n")
    commit_all(repo, "ignore build output")
    env = fake_terraform.env(PYTHONPATH=str(repo))
    synth = run(
        repo, env, "-m", "stacks.main", "--env", ENV, "--outdir", "cdktf.out", "--wheel", str(platform_wheel)
    )
    assert synth.returncode == 0, synth.stderr
    plans = tmp_path / "plans"
    common = ["--env", ENV, "--repo", str(repo), "--synth-dir", "cdktf.out", "--plans-dir", str(plans)]
    return {"repo": repo, "env": env, "plans": plans, "common": common, "tmp": tmp_path}


def test_the_applied_plan_file_is_the_reviewed_one(project, fake_terraform) -> None:
    repo, env, plans, common = project["repo"], project["env"], project["plans"], project["common"]
    planned = run(repo, env, "-m", "infra.deploy", "plan", *common)
    assert planned.returncode == EXIT_OK, planned.stderr
    bundle = plans / ENV
    manifest = json.loads((bundle / "manifest.json").read_text())

    # Review: the guardrails and the PR review read the real plan JSON, as the workflows do.
    reviewed = bundle / "plan.json"
    reviewed_sha = sha256(reviewed)
    guard = run(repo, env, "-m", "infra.guardrails", "--plan", str(reviewed), "--env", ENV)
    assert guard.returncode in (0, 1), guard.stderr  # a verdict, not unusable input
    out = project["tmp"]
    outputs = ["--out-md", str(out / "review.md"), "--out-json", str(out / "review.json")]
    review = run(
        repo,
        env,
        "-m",
        "infra.review",
        "--repo",
        str(repo),
        "--base",
        "HEAD",
        "--plan",
        f"{ENV}={reviewed}",
        *outputs,
    )
    assert review.returncode in (0, 1) and (out / "review.json").exists(), review.stderr
    report = json.loads((out / "review.json").read_text())
    assert report["envs"][ENV]["source"] == f"plan {reviewed}"  # the review read the saved plan's JSON
    counted = sum(c["create"] for c in report["envs"][ENV]["counts"].values())
    assert counted == manifest["changes"]["create"] > 0

    applied = run(repo, env, "-m", "infra.deploy", "apply", *common)
    assert applied.returncode == EXIT_OK, applied.stderr
    (show,) = fake_terraform.calls("show")
    (apply,) = fake_terraform.calls("apply")
    assert (
        reviewed_sha == manifest["plan_json_sha256"] == sha256(reviewed)
    )  # the JSON reviewed is the saved one
    assert show["plan_sha256"] == manifest["plan_sha256"]  # ... printed by `show -json` of this plan file
    assert apply["plan_sha256"] == manifest["plan_sha256"]  # ... which is the file Terraform applied
    assert Path(apply["argv"][-1]) == (bundle / "tfplan").resolve()
    assert Path(apply["chdir"]) == (repo / "cdktf.out" / "stacks" / ENV).resolve()


def test_apply_refuses_the_plan_after_a_new_commit_or_past_its_age(project, fake_terraform) -> None:
    repo, env, plans, common = project["repo"], project["env"], project["plans"], project["common"]
    assert run(repo, env, "-m", "infra.deploy", "plan", *common).returncode == EXIT_OK
    saved = plans.with_name("saved-plans")
    shutil.copytree(plans, saved)

    (repo / "README.md").write_text("a later commit\n")
    commit_all(repo, "later")
    other_commit = run(repo, env, "-m", "infra.deploy", "apply", *common)
    assert other_commit.returncode == EXIT_REFUSED
    assert "the plan was made from commit" in other_commit.stderr

    subprocess.run(["git", "reset", "--quiet", "--hard", "HEAD~1"], cwd=repo, check=True)
    manifest = saved / ENV / "manifest.json"
    data = json.loads(manifest.read_text())
    data["created_at"] = (utc_now() - timedelta(hours=3)).isoformat(timespec="seconds")
    manifest.write_text(json.dumps(data))
    old_common = [*common[:-1], str(saved)]
    too_old = run(repo, {**env, "PLAN_MAX_AGE": "2h"}, "-m", "infra.deploy", "apply", *old_common)
    assert too_old.returncode == EXIT_REFUSED
    assert "old" in too_old.stderr and "the limit is 2h" in too_old.stderr
    assert fake_terraform.calls("apply") == []
    within = run(repo, {**env, "PLAN_MAX_AGE": "4h"}, "-m", "infra.deploy", "apply", *old_common)
    assert within.returncode == EXIT_OK, within.stderr
    assert [c["plan_sha256"] for c in fake_terraform.calls("apply")] == [data["plan_sha256"]]
