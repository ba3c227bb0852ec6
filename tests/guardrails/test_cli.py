"""Exit codes: 0 clean, 1 unwaived finding at or above --fail-on, 2 unusable input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.guardrails.cli import main
from tests.guardrails.builders import account, platform
from tests.guardrails.test_inputs import plan_doc, planned


@pytest.fixture
def synth_root(tmp_path: Path) -> Path:
    for env in ("dev", "staging", "prod"):
        platform(env).write(tmp_path)
    return tmp_path


def cli(root: Path, repo_root: Path, *args: str) -> int:
    return main(
        ["--root", str(root), "--policies-dir", str(repo_root / "policies"), "--today", "2026-06-01", *args]
    )


def test_clean_stacks_exit_0(synth_root: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(synth_root, repo_root) == 0
    assert "0 at or above low: PASS" in capsys.readouterr().out


def test_fails_weakened_stack_exit_1(
    synth_root: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = platform("prod")
    stack.get("databricks_workspace_conf.prod_workspace_conf")["custom_config"]["enableExportNotebook"] = (
        "true"
    )
    stack.write(synth_root)
    assert cli(synth_root, repo_root) == 1
    assert "DBX016 prod" in capsys.readouterr().out


def test_fail_on_threshold(synth_root: Path, repo_root: Path) -> None:
    stack = platform("dev")
    stack.get("databricks_job.dev_jobs_churn")["tags"].pop("team")  # DBX012 is medium
    stack.write(synth_root)
    assert cli(synth_root, repo_root, "--fail-on", "high") == 0
    assert cli(synth_root, repo_root, "--fail-on", "medium") == 1


def test_fails_unparsable_stack_exit_2(
    synth_root: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (synth_root / "cdktf.out/stacks/dev/cdk.tf.json").write_text('{"resource": ')
    assert cli(synth_root, repo_root) == 2
    assert "dev/cdk.tf.json: line 1 column" in capsys.readouterr().err


def test_fails_without_synth_output_exit_2(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(tmp_path, repo_root) == 2
    assert "make synth" in capsys.readouterr().err


def test_fails_plan_without_env_exit_2(tmp_path: Path, repo_root: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_doc([])))
    assert cli(tmp_path, repo_root, "--plan", str(plan)) == 2


def test_plan_input(tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(plan_doc([planned("databricks_secret", "s", {"string_value": "x"})])))
    assert cli(tmp_path, repo_root, "--plan", str(plan), "--env", "dev", "--format", "json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert "DBX003" in {f["rule_id"] for f in doc["findings"]}
    assert doc["summary"]["envs"] == ["dev"]


def test_writes_sarif_file(synth_root: Path, repo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "guardrails.sarif"
    assert cli(synth_root, repo_root, "--format", "sarif", "--output", str(out)) == 0
    assert json.loads(out.read_text())["version"] == "2.1.0"


def test_module_entry_point_runs(synth_root: Path, repo_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "infra.guardrails", "--root", str(synth_root), "--format", "json"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["passed"] is True


def test_lists_the_rule_catalog(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--policies-dir", str(repo_root / "policies"), "--list-rules"]) == 0
    out = capsys.readouterr().out
    assert "| DBX001 `uc-access-mode` | critical | all |" in out
    assert "| DBX014 `no-all-purpose-prod` | high | prod |" in out


def test_lists_the_account_rules(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--policies-dir", str(repo_root / "policies"), "--list-rules"]) == 0
    out = capsys.readouterr().out
    for rule_id in ("DBX021", "DBX022", "DBX023", "DBX024", "DBX105"):
        assert f"| {rule_id} `" in out


def test_public_prod_workspace_is_judged_across_stacks(
    synth_root: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acct = account()
    acct.get("databricks_mws_private_access_settings.account_workspace_prod_private")[
        "public_access_enabled"
    ] = True
    path = acct.write(synth_root)
    assert cli(synth_root, repo_root) == 0  # the prod stack beside it restricts IPs
    capsys.readouterr()
    # Alone, the account stack cannot show the prod stack's IP lists: that is a finding, not a pass.
    assert cli(synth_root, repo_root, str(path)) == 1
    assert "DBX021 account databricks_mws_workspaces.account_workspace_prod" in capsys.readouterr().out


# --- issue 13: every unusable input is exit 2 with a message, never a pass or a traceback -------


def write_stack(root: Path, content: str | bytes) -> Path:
    path = root / "cdktf.out" / "stacks" / "dev" / "cdk.tf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"terraform": {}}', "no resources to check"),
        ('{"provider": {"databricks": [{"host": "https://x"}]}}', "no resources to check"),
        ('{"resource": {}}', "no resources to check"),
        ('{"data": {"databricks_group": {"g": {"display_name": "x"}}}}', "no resources to check"),
        (bytes(range(256)) * 4, "not UTF-8 text (byte 0x80 at offset 128)"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested deeper than 64 levels"),
        ('{"resource": {"x": {"y": {"z":' + "[" * 70 + "]" * 70 + "}}}}", "nested deeper than 64 levels"),
        (
            '{"resource": {"databricks_job": {"j": {"name": "a"}, "j": {"name": "b"}}}}',
            "duplicate key 'j': Terraform rejects it",
        ),
        ('{"resource": {"databricks_job": {"j": {}}}, "output": []}', "output: expected an object"),
        ('{"planned_values": {"root_module": {"resources": {}}}}', "a plan has no stack directory"),
    ],
)
def test_fails_unusable_input_with_exit_2_and_a_message(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, message: str
) -> None:
    path = write_stack(tmp_path, content)
    assert cli(tmp_path, repo_root, str(path)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"planned_values": 5}, "planned_values: Input should be a valid dictionary; got 5"),
        (
            {"resource_changes": [{"address": 1}]},
            "resource_changes[0].address: Input should be a valid string",
        ),
        ({"planned_values": {"root_module": {"child_modules": [{"resources": [3]}]}}}, "resources[0]"),
        ({"resource_changes": []}, "no resources to check"),
    ],
)
def test_fails_malformed_plan_with_exit_2(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str], plan: dict, message: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert cli(tmp_path, repo_root, "--plan", str(path), "--env", "dev") == 2
    assert message in capsys.readouterr().err


def test_a_folder_stands_for_the_stacks_in_it(synth_root: Path, repo_root: Path) -> None:
    stacks = synth_root / "cdktf.out" / "stacks"
    assert cli(synth_root, repo_root, str(synth_root)) == 0  # cdktf.out/stacks/*/cdk.tf.json below
    assert cli(synth_root, repo_root, str(synth_root / "cdktf.out")) == 0  # stacks/*/cdk.tf.json below
    assert cli(synth_root, repo_root, str(stacks / "prod")) == 0  # the stack's own cdk.tf.json
    stack = platform("prod")
    stack.get("databricks_job.prod_jobs_churn").pop("timeout_seconds")
    stack.write(synth_root)
    assert cli(synth_root, repo_root, str(stacks / "prod")) == 1


def test_fails_a_folder_without_stacks(tmp_path: Path, repo_root: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert cli(tmp_path, repo_root, str(tmp_path / "empty")) == 2
    assert "a folder with no cdk.tf.json" in capsys.readouterr().err


def test_a_crash_in_a_rule_is_exit_4_never_findings_or_a_pass(
    synth_root: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from infra.guardrails.rules import REGISTRY

    def broken(index, params):
        raise KeyError("a rule that crashes")

    monkeypatch.setitem(REGISTRY, "DBX018", broken)
    out = synth_root / "guardrails.sarif"
    out.write_text("{}")  # a report from an earlier run
    assert cli(synth_root, repo_root, "--format", "sarif", "--output", str(out)) == 4
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'a rule that crashes'" in err and "a bug in the gate" in err
    assert not out.exists()


def test_no_stale_output_after_exit_2(synth_root: Path, repo_root: Path, capsys) -> None:
    out = synth_root / "guardrails.sarif"
    assert cli(synth_root, repo_root, "--format", "sarif", "--output", str(out)) == 0
    assert json.loads(out.read_text())["version"] == "2.1.0"
    write_stack(synth_root, '{"resource": ')
    assert cli(synth_root, repo_root, "--format", "sarif", "--output", str(out)) == 2
    assert not out.exists(), "CI would upload the previous run's SARIF as this run's"
    assert not list(synth_root.glob(".guardrails.sarif*"))


@pytest.mark.parametrize(("content", "code"), [("weak", 1), ('{"resource": ', 2)])
def test_make_keeps_the_gate_exit_code(tmp_path: Path, repo_root: Path, content: str, code: int) -> None:
    """`make check-plan` exits 1 on findings and 2 on unusable input, not make's 2 for both."""
    plan = tmp_path / "plan.json"
    if content == "weak":
        content = json.dumps(plan_doc([planned("databricks_secret", "s", {"string_value": "x"})]))
    plan.write_text(content)
    proc = subprocess.run(
        ["make", "--no-print-directory", "check-plan", f"PLAN={plan}", "ENV=dev"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == code, proc.stderr[-2000:]
    if code == 1:
        assert "DBX003" in proc.stdout and "FAIL" in proc.stdout
    else:
        assert "make check-plan: exit 2 (unusable input)" in proc.stderr
