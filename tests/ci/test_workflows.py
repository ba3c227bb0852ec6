"""The CI/CD workflows cannot run here: validate them against GitHub's schema, audit them with
zizmor (offline), and check the conventions they must keep (pinned actions, minimal permissions,
no credentials persisted, no expression injection into shell, OAuth M2M only, CODEOWNERS in sync).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as the string "on".
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"pr.yml", "deploy-staging.yml", "deploy-prod.yml"}


def test_workflows_match_githubs_schema() -> None:
    proc = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _zizmor(*args: str) -> list[dict]:
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", *args, str(GITHUB)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def test_zizmor_reports_nothing_beyond_the_explained_ignores() -> None:
    findings = _zizmor("--persona", "pedantic")
    assert findings == [], json.dumps([(f["ident"], f["desc"]) for f in findings], indent=1)


def _ignores() -> dict[str, list[str]]:
    config = yaml.safe_load((GITHUB / "zizmor.yml").read_text(encoding="utf-8"))
    return {rule: spec.get("ignore", []) for rule, spec in config.get("rules", {}).items()}


def test_every_zizmor_ignore_has_a_reason() -> None:
    lines = (GITHUB / "zizmor.yml").read_text(encoding="utf-8").splitlines()
    for rule, entries in _ignores().items():
        for entry in entries:
            at = next(i for i, line in enumerate(lines) if line.strip() == f"- {entry}")
            comment = []
            for line in reversed(lines[:at]):
                if not line.strip().startswith("#"):
                    break
                comment.append(line)
            assert any("reason:" in c for c in comment), (
                f"zizmor.yml: rules.{rule}: {entry!r} has no # reason:"
            )


def test_every_zizmor_ignore_still_matches_a_finding() -> None:
    raw = _zizmor("--no-config")
    seen = {
        (f["ident"], Path(loc["symbolic"]["key"]["Local"]["verbatim_path"]).name)
        for f in raw
        for loc in f["locations"]
        if "Local" in loc["symbolic"]["key"]
    }
    for rule, entries in _ignores().items():
        for entry in entries:
            assert (rule, entry.split(":")[0]) in seen, (
                f"zizmor.yml: {rule}: {entry} matches no finding; remove it"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_sha(path: Path) -> None:
    for job_id, _, step in steps(load(path)):
        if "uses" in step:
            assert SHA_PIN.match(step["uses"]), (
                f"{path.name}: jobs.{job_id}: {step['uses']} is not pinned by SHA"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_empty_by_default_and_granted_per_job(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: jobs.{job_id} has no explicit permissions"
        assert "write-all" not in str(job["permissions"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_do_not_persist_credentials(path: Path) -> None:
    for job_id, _, step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: jobs.{job_id}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expressions_inside_shell_scripts(path: Path) -> None:
    for job_id, _, step in steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: jobs.{job_id}: pass values through env:"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_databricks_auth_is_a_service_principal_never_a_token(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "DATABRICKS_TOKEN" not in text  # the SDK's personal access token variable
    for job_id, job in load(path)["jobs"].items():
        env = job.get("env", {})
        if "DATABRICKS_CLIENT_ID" in env:
            assert "id-token" in job["permissions"], f"{path.name}: jobs.{job_id}: OIDC needs id-token: write"
            assert "DATABRICKS_AUTH_TYPE" in env


def test_prod_deploys_from_release_tags_behind_the_production_environment() -> None:
    workflow = load(GITHUB / "workflows" / "deploy-prod.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    (deploy,) = [
        j for j in workflow["jobs"].values() if "deploy" in " ".join(s.get("run", "") for s in j["steps"])
    ]
    assert deploy["environment"] == "production"
    assert deploy["needs"] == "test"


def test_staging_deploys_from_main() -> None:
    workflow = load(GITHUB / "workflows" / "deploy-staging.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert any(j.get("environment") == "staging" for j in workflow["jobs"].values())


def test_pr_workflow_posts_one_review_comment_and_uploads_sarif() -> None:
    workflow = load(GITHUB / "workflows" / "pr.yml")
    text = (GITHUB / "workflows" / "pr.yml").read_text(encoding="utf-8")
    assert workflow["on"] == {"pull_request": {"branches": ["main"]}}  # never pull_request_target
    assert "<!-- infra-review -->" in text and "updateComment" in text
    from infra.review.render import MARKER

    assert MARKER in text
    uses = [s.get("uses", "") for _, _, s in steps(workflow)]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert workflow["jobs"]["review"]["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_codeowners_is_generated_from_the_ownership_map() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "infra.review.codeowners", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
