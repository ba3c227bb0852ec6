"""`python -m infra.review` on bad input: a clear message, exit 2, nothing left behind; and the PR
workflow's review step, which turns any failure into the PR comment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.review.cli import budgets, main
from infra.review.errors import ReviewError
from infra.review.render import MARKER
from tests.review.conftest import commit_all, edit_text, git


@pytest.fixture(scope="module")
def repo(project_repo_factory) -> Path:
    return project_repo_factory("review-cli")


def review(repo: Path, tmp_path: Path, *args: str) -> int:
    return main(
        [
            "--repo",
            str(repo),
            "--out-md",
            str(tmp_path / "r.md"),
            "--out-json",
            str(tmp_path / "r.json"),
            *args,
        ]
    )


def leftovers(repo: Path, tmp_path: Path) -> list[str]:
    worktrees = git(repo, "worktree", "list", "--porcelain").count("worktree ") - 1
    return [f"{worktrees} extra worktree(s)"] * bool(worktrees) + [p.name for p in tmp_path.glob("r.*")]


def test_fails_on_unknown_base_ref(repo: Path, tmp_path: Path, capsys) -> None:
    assert review(repo, tmp_path, "--base", "no-such-branch") == 2
    err = capsys.readouterr().err
    assert "--base 'no-such-branch': unknown git ref" in err and "nothing was written" in err
    assert leftovers(repo, tmp_path) == []


def test_fails_on_dirty_tree_listing_the_paths(repo: Path, tmp_path: Path, capsys) -> None:
    (repo / "stacks" / "scratch.yaml").write_text("x: 1\n")
    edit_text(repo / "stacks" / "dev.yaml", "max_workers: 4", "max_workers: 3")
    try:
        assert review(repo, tmp_path, "--base", "HEAD") == 2
    finally:
        (repo / "stacks" / "scratch.yaml").unlink()
        git(repo, "checkout", "--", "stacks/dev.yaml")
    err = capsys.readouterr().err
    assert "uncommitted changes" in err and "stacks/scratch.yaml" in err and "stacks/dev.yaml" in err
    assert leftovers(repo, tmp_path) == []


def test_fails_on_a_base_that_does_not_synthesize_and_removes_the_worktree(
    repo: Path, tmp_path: Path, capsys
) -> None:
    good = git(repo, "rev-parse", "HEAD")
    edit_text(repo / "stacks" / "dev.yaml", "max_workers: 4", "max_workers: -1")
    broken = commit_all(repo, "broken base")
    git(repo, "revert", "--no-edit", "--quiet", broken)
    try:
        assert review(repo, tmp_path, "--base", broken) == 2
    finally:
        assert git(repo, "diff", good, "--stat") == ""
    err = capsys.readouterr().err
    assert "base: synthesizing the stacks (python -m stacks.main) failed (exit 2)" in err
    assert "max_workers" in err  # the base's own error, from its stderr tail
    assert leftovers(repo, tmp_path) == []


def test_fails_on_a_plan_for_an_unknown_file(repo: Path, tmp_path: Path, capsys) -> None:
    assert review(repo, tmp_path, "--base", "HEAD", "--plan", f"prod={tmp_path / 'missing.json'}") == 2
    assert "cannot read" in capsys.readouterr().err
    assert leftovers(repo, tmp_path) == []


def test_a_crash_in_the_review_is_exit_4_and_leaves_no_stale_review(
    repo: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import infra.review.cli as review_cli

    def broken(*args, **kwargs):
        raise AttributeError("a bug in the review")

    monkeypatch.setattr(review_cli, "parse_plans", broken)
    (tmp_path / "r.md").write_text("an earlier review")
    (tmp_path / "r.json").write_text("{}")
    assert review(repo, tmp_path, "--base", "HEAD") == 4
    err = capsys.readouterr().err
    assert "Traceback" in err and "AttributeError: a bug in the review" in err and "not a verdict" in err
    assert leftovers(repo, tmp_path) == []  # CI would post the earlier review as this one


def test_unusable_input_removes_an_earlier_review(repo: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "r.md").write_text("an earlier review")
    assert review(repo, tmp_path, "--base", "no-such-branch") == 2
    assert leftovers(repo, tmp_path) == []


def test_fails_on_a_plan_that_is_not_utf8(repo: Path, tmp_path: Path, capsys) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(b"\xff\xfe{}")
    assert review(repo, tmp_path, "--base", "HEAD", "--plan", f"prod={plan}") == 2
    assert "not UTF-8 text" in capsys.readouterr().err


# --- the PR workflow's review step ------------------------------------------------------------------
# The step's own shell script, taken from .github/workflows/pr.yml and run with bash as the runner
# runs it (`bash -e`), against a stand-in for `.venv/bin/python` that exits as the review would. It
# proves which comment the next step posts for each exit code; it does not run GitHub Actions.

FAKE_TOOL = """#!/bin/sh
case "$FAKE_EXIT" in
  0|1) echo '<!-- infra-review -->' > review.md; echo "review: verdict written" >&2 ;;
  *) echo "error: --base 'origin/main': unknown git ref" >&2; echo "nothing was written." >&2 ;;
esac
exit "$FAKE_EXIT"
"""


def review_step_script(repo_root: Path) -> str:
    workflow = yaml.safe_load((repo_root / ".github/workflows/pr.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["review"]["steps"] if s.get("id") == "review"]
    assert step.get("if") == "${{ !cancelled() }}"  # runs even when the install before it failed
    return step["run"]


def run_step(repo_root: Path, tmp_path: Path, fake_exit: int | None) -> tuple[str, str]:
    if fake_exit is not None:
        tool = tmp_path / ".venv" / "bin" / "python"
        tool.parent.mkdir(parents=True)
        tool.write_text(FAKE_TOOL)
        tool.chmod(0o755)
    output = tmp_path / "github_output"
    env = {
        "PATH": os.environ["PATH"],
        "GITHUB_OUTPUT": str(output),
        "BASE_REF": "main",
        "RUN_URL": "https://github.com/acme/platform/actions/runs/1",
        "FAKE_EXIT": str(fake_exit),
    }
    script = review_step_script(repo_root)
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # the step itself never fails: the last step does
    md = tmp_path / "review.md"
    return output.read_text(), md.read_text() if md.exists() else ""


@pytest.mark.parametrize("code", [0, 1])
def test_the_review_step_posts_the_verdict_the_tool_wrote(repo_root: Path, tmp_path: Path, code: int) -> None:
    output, md = run_step(repo_root, tmp_path, code)
    assert output == f"exit={code}\n"
    assert md == "<!-- infra-review -->\n"


@pytest.mark.parametrize("code", [2, 4])
def test_a_failed_review_replaces_the_comment_with_the_failure(repo_root: Path, tmp_path: Path, code: int):
    output, md = run_step(repo_root, tmp_path, code)
    assert output == f"exit={code}\n"
    assert md.startswith(MARKER + "\n")  # the post step updates the comment found by this marker
    assert f"Infra review: FAILED (exit {code})" in md
    assert "unknown git ref" in md and "actions/runs/1" in md


def test_a_review_that_never_ran_still_replaces_the_comment(repo_root: Path, tmp_path: Path) -> None:
    output, md = run_step(repo_root, tmp_path, None)  # no .venv: the install step failed
    assert output == "exit=127\n"
    assert "Infra review: FAILED (exit 127)" in md and "No such file or directory" in md


def test_budgets_are_read_as_the_stacks_read_them(tmp_path: Path, repo_root: Path) -> None:
    """Through load_environment: the shipped budgets, none for the account stack, and a bad value is the
    config's own error (file and key path), never silently skipped."""
    assert budgets(repo_root, ["dev", "staging", "prod", "account"]) == {
        "dev": 3000.0,
        "staging": 5000.0,
        "prod": 20000.0,
    }
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    text = (repo_root / "stacks" / "staging.yaml").read_text()
    (stacks / "staging.yaml").write_text(text.replace("monthly_budget_usd: 5000", "monthly_budget_usd: -5"))
    with pytest.raises(ReviewError, match=r"staging.yaml: monthly_budget_usd: .*greater than 0"):
        budgets(tmp_path, ["staging"])
