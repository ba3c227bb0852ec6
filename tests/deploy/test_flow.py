"""Plan and apply one small stack against the fake ``terraform``: what is saved, what is applied, and
every reason an apply is refused. Proves the tool's contract with the Terraform CLI (which files,
which flags, which checks, exit codes); it does not prove a real provider accepts these stacks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from infra.deploy import Bundle, InfraError, Refused
from infra.deploy.bundle import sha256_file, utc_now
from infra.deploy.cli import main
from infra.deploy.flow import Context, apply_stack, parse_age, plan_stack
from infra.deploy.terraform import Terraform
from mlops_spec.exit_codes import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, EXIT_REFUSED
from tests.deploy.conftest import SmallProject
from tests.review.conftest import commit_all, git

DAY = timedelta(hours=24)


def ctx(p: SmallProject) -> Context:
    return Context(p.repo, p.synth_dir, p.plans_dir, "cdktf")


def tf() -> Terraform:
    return Terraform(backoff_s=0)


def plan(p: SmallProject) -> Bundle:
    plan_stack(ctx(p), "staging", tf())
    return Bundle.of(p.plans_dir, "staging")


def refused(p: SmallProject, match: str, **kwargs) -> None:
    with pytest.raises(Refused, match=match):
        apply_stack(ctx(p), "staging", tf(), max_age=kwargs.pop("max_age", DAY), **kwargs)


def rewrite_manifest(bundle: Bundle, **changes: object) -> None:
    data = json.loads(bundle.manifest_file.read_text())
    bundle.manifest_file.write_text(json.dumps({**data, **changes}))


def test_plan_saves_the_plan_its_json_and_a_manifest_binding_them(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    m = bundle.manifest()
    assert m.commit == git(small_project.repo, "rev-parse", "HEAD") and not m.dirty
    assert m.plan_sha256 == sha256_file(bundle.plan_file)
    assert m.plan_json_sha256 == sha256_file(bundle.plan_json)
    assert m.terraform_version == "1.13.3" and m.toolchain == "cdktf"
    assert m.changes["create"] == 2
    assert bundle.lock_file.read_text() == (small_project.stack_dir / ".terraform.lock.hcl").read_text()
    (show,) = fake_terraform.calls("show")
    assert show["plan_sha256"] == m.plan_sha256  # the JSON is the show of this very plan file
    (plan_call,) = fake_terraform.calls("plan")
    assert "-lock=false" not in plan_call["argv"] and "-detailed-exitcode" in plan_call["argv"]


def test_apply_applies_the_saved_plan_file_and_nothing_else(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    apply_stack(ctx(small_project), "staging", tf(), max_age=DAY)
    (applied,) = fake_terraform.calls("apply")
    assert applied["plan_sha256"] == bundle.manifest().plan_sha256
    assert applied["argv"][-1] == str(bundle.plan_file.resolve())
    init = fake_terraform.calls("init")[-1]
    assert "-lockfile=readonly" in init["argv"]  # the providers the plan was made with


def test_a_plan_is_applied_at_most_once(small_project, fake_terraform) -> None:
    plan(small_project)
    apply_stack(ctx(small_project), "staging", tf(), max_age=DAY)
    refused(small_project, "already started")
    assert len(fake_terraform.calls("apply")) == 1


def test_two_applies_of_one_plan_at_once_run_terraform_once(small_project, fake_terraform) -> None:
    plan(small_project)
    cmd = [
        sys.executable,
        "-m",
        "infra.deploy",
        "apply",
        "--env",
        "staging",
        "--repo",
        str(small_project.repo),
    ]
    cmd += ["--synth-dir", str(small_project.synth_dir), "--plans-dir", str(small_project.plans_dir)]
    env = fake_terraform.env(FAKE_TF_APPLY_SLEEP="1")
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    assert codes == [EXIT_OK, EXIT_REFUSED]
    assert len(fake_terraform.calls("apply")) == 1


def test_fails_on_a_plan_from_another_commit(small_project, fake_terraform) -> None:
    plan(small_project)
    (small_project.repo / "README.md").write_text("changed\n")
    commit_all(small_project.repo, "next")
    refused(small_project, r"made from commit .* not ")
    assert fake_terraform.calls("apply") == []


def test_fails_when_ci_deploys_another_commit_than_the_plan(small_project, fake_terraform) -> None:
    plan(small_project)
    refused(small_project, "not 0123456789ab", commit="0123456789abcdef0123456789abcdef01234567")


def test_fails_on_a_plan_older_than_the_configured_age(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    rewrite_manifest(bundle, created_at=(utc_now() - timedelta(hours=5)).isoformat(timespec="seconds"))
    refused(small_project, r"is 5h old .* the limit is 4h", max_age=parse_age("4h"))
    apply_stack(ctx(small_project), "staging", tf(), max_age=parse_age("6h"))  # within a longer limit


def test_fails_on_a_plan_dated_in_the_future(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    rewrite_manifest(bundle, created_at=(utc_now() + timedelta(hours=1)).isoformat(timespec="seconds"))
    refused(small_project, "in the future")


def test_fails_on_a_replaced_plan_file(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    other = small_project.plans_dir / "other"
    plan_stack(Context(small_project.repo, small_project.synth_dir, other, "cdktf"), "staging", tf())
    bundle.plan_file.write_bytes((other / "staging" / "tfplan").read_bytes())  # a valid, unreviewed plan
    refused(small_project, "plan file changed since it was planned")
    assert fake_terraform.calls("apply") == []


def test_fails_on_an_edited_plan_json(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    bundle.plan_json.write_text(bundle.plan_json.read_text().replace("features", "featurez"))
    refused(small_project, r"plan JSON \(what was reviewed\) changed")


def test_apply_uses_the_planned_stack_files_not_a_later_synth(small_project, fake_terraform) -> None:
    """The wheel Terraform uploads at apply is the planned one, whatever the folder holds by then."""
    plan(small_project)
    wheel = small_project.stack_dir / "assets" / "wheel" / "z.whl"
    wheel.write_bytes(b"a wheel that was never planned")
    apply_stack(ctx(small_project), "staging", tf(), max_age=DAY)
    assert wheel.read_bytes() == b"wheel bytes v1"
    assert (small_project.stack_dir / ".terraform").is_dir()  # Terraform's own files stay


def test_apply_needs_no_synth_output(small_project, fake_terraform) -> None:
    """CI's apply job downloads the bundle; it runs no CDK, no Node, no npm with deploy credentials."""
    bundle = plan(small_project)
    shutil.rmtree(small_project.synth_dir)
    apply_stack(ctx(small_project), "staging", tf(), max_age=DAY)
    assert (small_project.stack_dir / "cdk.tf.json").read_bytes() == (
        bundle.stack_copy / "cdk.tf.json"
    ).read_bytes()
    assert len(fake_terraform.calls("apply")) == 1


def test_fails_on_planned_stack_files_changed_in_the_bundle(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    (bundle.stack_copy / "assets" / "wheel" / "z.whl").write_bytes(b"swapped")
    refused(small_project, "planned stack files are missing or changed")


def test_fails_when_applied_from_another_folder(small_project, fake_terraform) -> None:
    plan(small_project)
    elsewhere = Context(
        small_project.repo, small_project.repo / "other-out", small_project.plans_dir, "cdktf"
    )
    with pytest.raises(Refused, match=r"the plan ran in cdktf.out/stacks/staging"):
        apply_stack(elsewhere, "staging", tf(), max_age=DAY)


def test_fails_on_another_terraform_version(small_project, fake_terraform, monkeypatch) -> None:
    plan(small_project)
    monkeypatch.setenv("FAKE_TF_VERSION", "1.14.0")
    refused(small_project, "Terraform 1.14.0 here, the plan was made with 1.13.3")


def test_fails_on_a_plan_of_uncommitted_changes(small_project, fake_terraform) -> None:
    (small_project.repo / "README.md").write_text("not committed\n")
    plan(small_project)
    refused(small_project, "uncommitted changes")


def test_fails_on_a_bundle_of_another_stack(small_project, fake_terraform) -> None:
    bundle = plan(small_project)
    rewrite_manifest(bundle, stack="prod")
    refused(small_project, "for stack 'prod', not 'staging'")


def test_terraform_refuses_a_stale_plan_after_another_apply(small_project, fake_terraform, capfd) -> None:
    """Two plans of one commit: the second apply fails in Terraform (state moved), never re-applies."""
    first = plan(small_project)
    second_dir = small_project.plans_dir / "second"
    plan_stack(Context(small_project.repo, small_project.synth_dir, second_dir, "cdktf"), "staging", tf())
    apply_stack(ctx(small_project), "staging", tf(), max_age=DAY)
    capfd.readouterr()
    second = Context(small_project.repo, small_project.synth_dir, second_dir, "cdktf")
    with pytest.raises(InfraError, match=r"terraform apply .* failed \(terraform exit 1\)"):
        apply_stack(second, "staging", tf(), max_age=DAY)
    assert "Saved plan is stale" in capfd.readouterr().err  # Terraform's own output streams to the log
    assert first.manifest().plan_sha256 != Bundle.of(second_dir, "staging").manifest().plan_sha256


def test_a_failed_plan_leaves_no_bundle_to_apply(small_project, fake_terraform, monkeypatch) -> None:
    plan(small_project)
    monkeypatch.setenv("FAKE_TF_FAIL", "show")
    with pytest.raises(InfraError, match="injected failure of terraform show"):
        plan(small_project)
    assert not (small_project.plans_dir / "staging").exists()
    assert [p.name for p in small_project.plans_dir.iterdir()] == []  # no scratch folder left either


def test_init_is_retried_a_bounded_number_of_times(small_project, fake_terraform, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_TF_FAIL", "init:2")
    plan(small_project)
    assert len(fake_terraform.calls("init")) == 3
    monkeypatch.setenv("FAKE_TF_FAIL", "init")
    with pytest.raises(InfraError, match=r"terraform init .* failed"):
        plan(small_project)


def test_read_only_plans_skip_the_state_lock(small_project, fake_terraform) -> None:
    plan_stack(ctx(small_project), "staging", tf(), lock=False)
    (call,) = fake_terraform.calls("plan")
    assert "-lock=false" in call["argv"]


def cli(p: SmallProject, *args: str) -> int:
    common = ["--repo", str(p.repo), "--synth-dir", str(p.synth_dir), "--plans-dir", str(p.plans_dir)]
    return main([*args[:1], "--env", "staging", *common, *args[1:]])


def test_cli_exit_codes(small_project, fake_terraform, monkeypatch, capsys) -> None:
    assert cli(small_project, "apply") == EXIT_BAD_INPUT  # no saved plan
    assert "no saved plan" in capsys.readouterr().err
    assert cli(small_project, "plan") == EXIT_OK
    assert "2 to create" in capsys.readouterr().err
    assert cli(small_project, "apply", "--max-age", "soon") == EXIT_BAD_INPUT
    assert cli(small_project, "apply", "--commit", "f" * 40) == EXIT_REFUSED
    assert cli(small_project, "apply") == EXIT_OK
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli(small_project, "plan") == EXIT_INFRA
    assert "terraform: not found on PATH" in capsys.readouterr().err


def test_cli_fails_without_synth_output(tmp_path, fake_terraform, small_project, capsys) -> None:
    code = main(["plan", "--env", "prod", "--repo", str(small_project.repo), "--synth-dir", str(tmp_path)])
    assert code == EXIT_BAD_INPUT
    assert "stacks/prod/cdk.tf.json: missing; synthesize first" in capsys.readouterr().err


def test_deploy_without_a_terminal_needs_auto_approve(small_project, fake_terraform, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115 - closed by pytest's teardown
    assert cli(small_project, "deploy") == EXIT_REFUSED
    assert fake_terraform.calls("apply") == []
    assert cli(small_project, "deploy", "--auto-approve") == EXIT_OK
    assert len(fake_terraform.calls("apply")) == 1
    assert cli(small_project, "deploy", "--auto-approve") == EXIT_OK  # nothing left to change
    assert len(fake_terraform.calls("apply")) == 1
    (small_project.repo / "README.md").write_text("edited, not committed\n")
    assert cli(small_project, "deploy", "--auto-approve") == EXIT_REFUSED  # refused before planning
    assert len(fake_terraform.calls("plan")) == 3


@pytest.mark.parametrize("text", ["0", "-1h", "4w", "h", ""])
def test_fails_on_a_bad_max_age(text: str) -> None:
    with pytest.raises(Exception, match="not a positive age"):
        parse_age(text)


def test_check_ref_accepts_only_commits_on_the_branch(small_project, capsys) -> None:
    repo = small_project.repo
    on_main = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "-b", "side")
    (repo / "README.md").write_text("side\n")
    off_main = commit_all(repo, "side")
    assert main(["check-ref", "--repo", str(repo), "--commit", on_main, "--branch", "main"]) == EXIT_OK
    assert main(["check-ref", "--repo", str(repo), "--commit", off_main, "--branch", "main"]) == EXIT_REFUSED
    assert "is not on main" in capsys.readouterr().err
    code = main(["check-ref", "--repo", str(repo), "--commit", on_main, "--branch", "origin/nope"])
    assert code == EXIT_BAD_INPUT


def test_the_plan_file_is_applied_from_the_bundle_even_when_cwd_differs(
    small_project, fake_terraform, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle = plan(small_project)
    apply_stack(ctx(small_project), "staging", tf(), max_age=DAY)
    assert fake_terraform.calls("apply")[0]["argv"][-1] == str(bundle.plan_file.resolve())


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("verb", ["plan", "apply", "deploy"])
def test_the_account_stack_is_never_reached_through_an_environment(
    verb, small_project, fake_terraform, capsys
) -> None:
    """The account stack holds the prod workspace: `--env account` is bad input, before Terraform runs."""
    common = ["--repo", str(small_project.repo), "--synth-dir", str(small_project.synth_dir)]
    assert main([verb, "--env", "account", *common]) == EXIT_BAD_INPUT
    assert "the account stack has its own targets" in capsys.readouterr().err
    assert main([verb, "--env", "qa", *common]) == EXIT_BAD_INPUT
    assert "allowed: dev, staging, prod" in capsys.readouterr().err
    assert fake_terraform.calls() == []
    # Only --account names it: the stack folder it would plan, the bundle it would apply.
    assert main([verb, "--account", *common, "--plans-dir", str(small_project.plans_dir)]) == EXIT_BAD_INPUT
    missing = "no saved plan" if verb == "apply" else "stacks/account/cdk.tf.json: missing"
    assert missing in capsys.readouterr().err


def test_check_env_accepts_only_environments(capsys) -> None:
    assert main(["check-env", "staging"]) == EXIT_OK
    assert main(["check-env", "account"]) == EXIT_BAD_INPUT
    assert main(["check-env", ""]) == EXIT_BAD_INPUT
    assert "not an environment; allowed: dev, staging, prod" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["plan", "apply", "deploy", "diff"])
def test_make_refuses_env_account_before_synth(target, tmp_path, fake_terraform) -> None:
    """`make <target> ENV=account` exits 2 with the CLI's message, before synth and before Terraform.
    Proves the Makefile's wiring on this checkout (`.venv` installed); not the account targets."""
    out, plans = tmp_path / "out", tmp_path / "plans"
    cmd = ["make", "--no-print-directory", target, "ENV=account", f"CDK_OUT={out}", f"PLANS={plans}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=fake_terraform.env(), capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "error: ENV=account: the account stack has its own targets" in proc.stderr
    assert not out.exists() and not plans.exists() and fake_terraform.calls() == []
