"""Rule metadata, parameters and waivers are validated strictly, with file and key path."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml

from infra.guardrails import GuardrailsError, Report, evaluate, load_policies
from infra.tfdoc import resources_from_doc
from tests.guardrails.builders import TODAY, platform


@pytest.fixture
def policies_dir(tmp_path: Path, repo_root: Path) -> Path:
    shutil.copytree(repo_root / "policies" / "guardrails", tmp_path / "guardrails")
    return tmp_path


def edit(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    change(data)
    path.write_text(yaml.safe_dump(data))


def waive(policies_dir: Path, **entry: object) -> None:
    waiver = {
        "rule": "DBX018",
        "env": "dev",
        "resource": "databricks_job.dev_jobs_churn",
        "reason": "nightly backfill has no fixed end",
        "owner": "mlops-engineers",
        "expires": "2026-12-31",
    }
    waiver.update(entry)
    (policies_dir / "guardrails" / "waivers.yaml").write_text(yaml.safe_dump({"waivers": [waiver]}))


def weakened_dev() -> list:
    stack = platform("dev")
    stack.get("databricks_job.dev_jobs_churn").pop("timeout_seconds")
    return resources_from_doc(stack.doc, "dev", "dev/cdk.tf.json")


def test_shipped_policy_files_load(repo_root: Path) -> None:
    policies = load_policies(repo_root / "policies")
    assert {"dev", "staging", "prod"} <= set(policies.envs)
    assert policies.params["prod"].max_workers > policies.params["dev"].max_workers
    assert policies.params["dev"].workspace_settings["enableVerboseAuditLogs"] is True


def test_fails_unknown_param_key(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/params.yaml", lambda d: d["envs"]["prod"].update(max_worker=4))
    with pytest.raises(GuardrailsError, match=r"params.yaml: envs.prod.max_worker: unknown key"):
        load_policies(policies_dir)


def test_fails_unknown_defaults_key(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/params.yaml", lambda d: d["defaults"].update(required_tag=["x"]))
    with pytest.raises(
        GuardrailsError, match=r"defaults.required_tag: unknown key; allowed: .*required_tags"
    ):
        load_policies(policies_dir)


def test_fails_bad_param_value(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/params.yaml", lambda d: d["envs"]["dev"].update(max_workers=0))
    with pytest.raises(GuardrailsError, match=r"envs.dev.max_workers: Input should be greater than 0; got 0"):
        load_policies(policies_dir)


def test_fails_rule_with_bad_severity(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/rules.yaml", lambda d: d["rules"]["DBX001"].update(severity="urgent"))
    with pytest.raises(
        GuardrailsError, match=r"rules.DBX001.severity: unknown severity 'urgent'; allowed: info"
    ):
        load_policies(policies_dir)


def test_fails_rule_metadata_without_check_and_check_without_metadata(policies_dir: Path) -> None:
    def change(d: dict) -> None:
        d["rules"]["DBX999"] = d["rules"].pop("DBX001")

    edit(policies_dir / "guardrails/rules.yaml", change)
    with pytest.raises(GuardrailsError) as exc:
        load_policies(policies_dir)
    assert "rules.DBX999: no check implements this rule" in str(exc.value)
    assert "rules.DBX001: implemented rule has no entry" in str(exc.value)


def test_fails_rule_scoped_to_unknown_env(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/rules.yaml", lambda d: d["rules"]["DBX014"].update(envs=["production"]))
    with pytest.raises(GuardrailsError, match=r"rules.DBX014.envs: unknown environment; got 'production'"):
        load_policies(policies_dir)


def test_fails_invalid_yaml_with_line(policies_dir: Path) -> None:
    (policies_dir / "guardrails/params.yaml").write_text("defaults: [\n")
    with pytest.raises(GuardrailsError, match=r"params.yaml: line \d+ column \d+: invalid YAML"):
        load_policies(policies_dir)


# --- waivers ----------------------------------------------------------------------------------


def test_waived_finding_is_reported_as_waived(policies_dir: Path) -> None:
    waive(policies_dir)
    report: Report = evaluate(weakened_dev(), load_policies(policies_dir), TODAY)
    (finding,) = report.findings
    assert finding.rule.id == "DBX018" and finding.waived
    assert finding.waiver.owner == "mlops-engineers"
    assert report.exit_code() == 0


def test_waiver_matches_by_construct_path(policies_dir: Path) -> None:
    waive(policies_dir, resource="dev/jobs/churn")
    report = evaluate(weakened_dev(), load_policies(policies_dir), TODAY)
    assert [f.waived for f in report.findings] == [True]


def test_waiver_for_another_rule_does_not_hide_the_finding(policies_dir: Path) -> None:
    waive(policies_dir, rule="DBX012")
    report = evaluate(weakened_dev(), load_policies(policies_dir), TODAY)
    assert [f.waived for f in report.findings] == [False]
    assert report.exit_code() == 1
    assert any("matches no finding" in n for n in report.notes)


def test_fails_expired_waiver(policies_dir: Path) -> None:
    waive(policies_dir, expires="2026-05-31")
    with pytest.raises(GuardrailsError, match=r"waivers\[0\].expires: waiver for DBX018 .* expired"):
        evaluate(weakened_dev(), load_policies(policies_dir), TODAY)


def test_waiver_valid_through_its_expiry_day(policies_dir: Path) -> None:
    waive(policies_dir, expires=TODAY.isoformat())
    assert evaluate(weakened_dev(), load_policies(policies_dir), TODAY).exit_code() == 0
    with pytest.raises(GuardrailsError, match="expired"):
        evaluate(weakened_dev(), load_policies(policies_dir), date(2026, 6, 2))


def test_fails_waiver_for_unknown_rule(policies_dir: Path) -> None:
    waive(policies_dir, rule="DBX998")
    with pytest.raises(GuardrailsError, match=r"waivers.yaml: waivers\[0\].rule: unknown rule; got 'DBX998'"):
        load_policies(policies_dir)


def test_fails_waiver_for_unknown_resource(policies_dir: Path) -> None:
    waive(policies_dir, resource="databricks_job.dev_jobs_churm")
    with pytest.raises(GuardrailsError, match=r"waivers\[0\].resource: no such resource in the dev stack"):
        evaluate(weakened_dev(), load_policies(policies_dir), TODAY)


def test_fails_waiver_without_owner_or_reason(policies_dir: Path) -> None:
    waive(policies_dir, owner="", reason="ok")
    with pytest.raises(GuardrailsError) as exc:
        load_policies(policies_dir)
    assert "waivers[0].owner" in str(exc.value) and "waivers[0].reason" in str(exc.value)


def test_waiver_for_a_stack_not_in_this_run_is_not_checked(policies_dir: Path) -> None:
    waive(policies_dir, env="prod", resource="databricks_job.prod_nothing", expires="2020-01-01")
    assert (
        evaluate(
            resources_from_doc(platform("dev").doc, "dev"), load_policies(policies_dir), TODAY
        ).exit_code()
        == 0
    )


def test_fails_unknown_key_in_a_rule(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/rules.yaml", lambda d: d["rules"]["DBX003"].update(sevirity="low"))
    with pytest.raises(
        GuardrailsError, match=r"rules.DBX003.sevirity: unknown key; allowed: envs, fix, name"
    ):
        load_policies(policies_dir)


def test_fails_unknown_key_in_deploy_task(policies_dir: Path) -> None:
    edit(
        policies_dir / "guardrails/params.yaml", lambda d: d["defaults"]["deploy_task"].update(entrypoint="x")
    )
    with pytest.raises(
        GuardrailsError,
        match=r"params.yaml: defaults.deploy_task.entrypoint: unknown key; allowed: endpoint_param",
    ):
        load_policies(policies_dir)


def test_fails_unknown_prod_workspace_env(policies_dir: Path) -> None:
    # A typo would silently exempt the prod workspace from DBX021 and DBX023.
    edit(
        policies_dir / "guardrails/params.yaml",
        lambda d: d["defaults"].update(prod_workspace_envs=["production"]),
    )
    with pytest.raises(GuardrailsError) as exc:
        load_policies(policies_dir)
    message = str(exc.value)
    assert (
        "params.yaml: defaults.prod_workspace_envs: unknown environment; got 'production'; allowed: "
        in message
    )
    assert "prod" in message.rsplit("allowed: ", 1)[1].split(", ")
