"""The CI/CD workflows cannot run here: validate them against GitHub's schema, audit them with
zizmor (offline), and check the conventions they must keep (pinned actions, minimal permissions,
no credentials persisted, no expression injection into shell, OAuth M2M only, CODEOWNERS in sync),
and the deploy contract: PR code plans with read-only identities only, deploys apply the plan
reviewed in the same run, prod and the account stack only from the default branch, each behind its
own environment.
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


def test_the_four_workflows_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert names == {"pr.yml", "deploy-staging.yml", "deploy-prod.yml", "deploy-account.yml"}


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


def workflow(name: str) -> dict:
    return load(GITHUB / "workflows" / name)


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job.get("steps", []))


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").startswith(f"{action}@")]


# workflow -> (environment of the plan job, environment of the apply job, stack, apply command)
DEPLOYS = {
    "deploy-staging.yml": ("staging-plan", "staging", "staging", 'make apply ENV="${TARGET_ENV}"'),
    "deploy-prod.yml": ("production-plan", "production", "prod", 'make apply ENV="${TARGET_ENV}"'),
    "deploy-account.yml": ("account-plan", "account", "account", "make apply-account"),
}


@pytest.mark.parametrize("name", DEPLOYS)
def test_deploys_apply_the_plan_reviewed_in_the_same_run(name: str) -> None:
    plan_env, apply_env, stack, apply_cmd = DEPLOYS[name]
    jobs = workflow(name)["jobs"]
    plan, apply = jobs["plan"], jobs["apply"]
    assert plan["needs"] == "test" and apply["needs"] == "plan"
    assert plan["environment"] == plan_env and apply["environment"] == apply_env
    # The plan job saves the plan, reviews that very plan JSON into the run summary, uploads it.
    assert "make plan" in runs(plan)
    assert f'--plan "{"${TARGET_ENV}" if stack != "account" else "account"}=plans/' in runs(plan)
    assert "GITHUB_STEP_SUMMARY" in runs(plan)
    (upload,) = uses(plan, "actions/upload-artifact")
    assert upload["with"]["name"] == f"plan-{stack}" and upload["with"]["path"] == f"plans/{stack}/"
    # The apply job downloads that artifact of this run and applies it for this commit only.
    (download,) = uses(apply, "actions/download-artifact")
    assert download["with"] == {"name": f"plan-{stack}", "path": f"plans/{stack}"}
    assert apply_cmd in runs(apply) and "--commit ${GITHUB_SHA}" in runs(apply)
    assert "PLAN_MAX_AGE" in apply["env"]
    # No CDK, no Node, no npm where the deploy credentials are.
    assert not uses(apply, "actions/setup-node") and "synth" not in runs(apply)
    # One Terraform version for plan and apply.
    for job in (plan, apply):
        (tf,) = uses(job, "hashicorp/setup-terraform")
        assert tf["with"]["terraform_version"] == "${{ env.TERRAFORM_VERSION }}"


def test_prod_deploys_release_tags_of_default_branch_commits_only() -> None:
    prod = workflow("deploy-prod.yml")
    assert prod["on"] == {"push": {"tags": ["v*"]}}
    gate = runs(prod["jobs"]["test"])
    assert '-m infra.deploy check-ref --commit "${GITHUB_SHA}" --branch "origin/${DEFAULT_BRANCH}"' in gate
    assert gate.index("check-ref") < gate.index("make test")
    assert prod["jobs"]["test"]["steps"][0]["with"]["fetch-depth"] == 0


def test_the_account_stack_has_its_own_workflow_and_only_it_applies_the_account() -> None:
    account = workflow("deploy-account.yml")
    assert set(account["on"]) == {"workflow_dispatch", "push"}
    assert account["on"]["push"]["branches"] == ["main"]
    assert "check-ref" in runs(account["jobs"]["test"])
    assert "make plan-account" in runs(account["jobs"]["plan"])
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        if path.name != "deploy-account.yml":
            assert "-account" not in text.replace("deploy-account.yml", ""), path.name
            assert "ENV=account" not in text and "environment: account" not in text, path.name


def test_prod_runs_on_a_configurable_runner_for_the_privatelink_workspace() -> None:
    jobs = workflow("deploy-prod.yml")["jobs"]
    for name in ("plan", "apply"):
        assert jobs[name]["runs-on"] == "${{ fromJSON(vars.PROD_RUNS_ON || '\"ubuntu-24.04\"') }}"


def test_pull_request_code_never_holds_write_credentials() -> None:
    jobs = workflow("pr.yml")["jobs"]
    plan = jobs["plan"]
    assert (
        plan["environment"]
        == "${{ matrix.env == 'prod' && 'production-plan' || format('{0}-plan', matrix.env) }}"
    )
    assert set(plan["strategy"]["matrix"]["env"]) == {"dev", "staging", "prod"}  # no account plan from PRs
    assert 'make plan ENV="${TARGET_ENV}" ARGS=--no-lock' in runs(plan)
    for job_id, job in jobs.items():
        if job_id != "plan":
            assert "environment" not in job and "DATABRICKS_CLIENT_ID" not in job.get("env", {}), job_id
    assert "make apply" not in (GITHUB / "workflows" / "pr.yml").read_text(encoding="utf-8")


def test_pr_review_reads_the_real_plans_of_the_run() -> None:
    jobs = workflow("pr.yml")["jobs"]
    (download,) = uses(jobs["review"], "actions/download-artifact")
    assert download["with"] == {"pattern": "plan-*", "path": "plans"}
    assert 'plans+=(--plan "${env%/plan.json}=${plan}")' in runs(jobs["review"])
    assert "infra.guardrails --plan" in runs(jobs["plan"])
    assert jobs["review"]["needs"] == "plan"


def test_ci_synthesizes_with_the_cli_and_compares_both_toolchains() -> None:
    jobs = workflow("pr.yml")["jobs"]
    commands = runs(jobs["test"])
    assert "make test" in commands and "make synth" in commands  # the CDKTF CLI must start on this Node
    assert "make toolchains-check" in runs(jobs["toolchains"])
    for name in ("deploy-staging.yml", "deploy-prod.yml", "deploy-account.yml"):
        assert "make check" in runs(workflow(name)["jobs"]["test"])  # make check synthesizes


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_node_22_everywhere(path: Path) -> None:
    assert load(path)["env"]["NODE_VERSION"] == "22"


DEPLOY_ENVIRONMENTS = {apply_env for _, apply_env, _, _ in DEPLOYS.values()}


def holds_deploy_credentials(job: dict) -> bool:
    """Runs in an environment holding a deployer's credentials (the plan environments are read-only)."""
    return job.get("environment") in DEPLOY_ENVIRONMENTS


def restores_cache(job: dict) -> bool:
    setups = [*uses(job, "actions/setup-python"), *uses(job, "actions/setup-node")]
    return any("cache" in s.get("with", {}) for s in setups) or bool(
        uses(job, "actions/cache") or uses(job, "actions/cache/restore")
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_job_with_deploy_credentials_restores_a_cache(path: Path) -> None:
    """Caches are shared with pull-request runs, which can write them (cache poisoning): a job that can
    deploy installs from the lock and the registries only."""
    for job_id, job in load(path)["jobs"].items():
        if "make apply" in runs(job) or "DATABRICKS_CLIENT_ID" in job.get("env", {}):
            # Every job with a service principal is either a deployer or in a read-only plan environment.
            assert holds_deploy_credentials(job) or "-plan" in job["environment"], f"{path.name}: {job_id}"
        if "make apply" in runs(job):
            assert holds_deploy_credentials(job), f"{path.name}: jobs.{job_id}"
        if holds_deploy_credentials(job):
            assert not restores_cache(job), f"{path.name}: jobs.{job_id} holds deploy credentials"


def test_the_rule_sees_a_cache_in_an_apply_job() -> None:
    apply = workflow("deploy-staging.yml")["jobs"]["apply"]
    assert holds_deploy_credentials(apply) and not restores_cache(apply)
    python = {"uses": uses(apply, "actions/setup-python")[0]["uses"], "with": {"cache": "pip"}}
    assert restores_cache({**apply, "steps": [python]})
    cache = {"uses": "actions/cache/restore@" + "0" * 40}
    assert restores_cache({**apply, "steps": [cache]})


@pytest.mark.parametrize("name", ["pr.yml", "deploy-staging.yml"])
def test_pip_and_npm_are_cached_where_no_deploy_credentials_are(name: str) -> None:
    for job_id, job in workflow(name)["jobs"].items():
        if holds_deploy_credentials(job):
            continue
        for step in uses(job, "actions/setup-python"):
            assert step["with"].get("cache") == "pip", f"{name}: jobs.{job_id}"
        for step in uses(job, "actions/setup-node"):
            assert step["with"].get("cache") == "npm", f"{name}: jobs.{job_id}"


@pytest.mark.parametrize("name", ["deploy-prod.yml", "deploy-account.yml"])
def test_release_workflows_restore_no_cache(name: str) -> None:
    for job_id, job in workflow(name)["jobs"].items():
        assert not restores_cache(job), f"{name}: jobs.{job_id}"


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
