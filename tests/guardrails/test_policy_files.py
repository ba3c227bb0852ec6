"""Rule metadata, parameters and waivers are validated strictly, with file and key path."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml

from infra.guardrails import FloorError, GuardrailsError, Report, evaluate, load_policies
from infra.tfdoc import resources_from_doc
from tests.guardrails.builders import TODAY, platform


@pytest.fixture
def policies_dir(tmp_path: Path, repo_root: Path) -> Path:
    shutil.copytree(repo_root / "policies" / "guardrails", tmp_path / "guardrails")
    shutil.copy(repo_root / "policies" / "ownership.yaml", tmp_path / "ownership.yaml")
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
        "owner": "@acme/mlops-platform",
        "expires": "2026-08-01",
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
        GuardrailsError,
        match=r"defaults.required_tag: unknown key; got 'required_tag'; allowed: .*required_tags",
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
    with pytest.raises(GuardrailsError, match=r"params.yaml: <root>: YAML syntax error at line 2, column 1"):
        load_policies(policies_dir)


@pytest.mark.parametrize(
    "file", ["guardrails/params.yaml", "guardrails/rules.yaml", "guardrails/waivers.yaml", "ownership.yaml"]
)
def test_fails_duplicated_key_instead_of_keeping_the_last(policies_dir: Path, file: str) -> None:
    # YAML keeps the last of two equal keys: a second `max_dbus_per_hour:` would quietly win.
    path = policies_dir / file
    text = path.read_text()
    first_key = next(line for line in text.splitlines() if line and not line.startswith(("#", " ")))
    path.write_text(text + "\n" + first_key + ("\n" if first_key.endswith(":") else "") + "\n")
    with pytest.raises(GuardrailsError, match=rf"{file}: <root>: YAML syntax error .*duplicate key"):
        load_policies(policies_dir)


def test_fails_invalid_regex_as_input_not_a_crash(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/params.yaml", lambda d: d["envs"]["dev"].update(runtime_pattern="(15"))
    with pytest.raises(GuardrailsError, match=r"envs.dev.runtime_pattern: invalid regex '\(15'"):
        load_policies(policies_dir)


# --- waivers ----------------------------------------------------------------------------------


def test_waived_finding_is_reported_as_waived(policies_dir: Path) -> None:
    waive(policies_dir)
    report: Report = evaluate(weakened_dev(), load_policies(policies_dir), TODAY)
    (finding,) = report.findings
    assert finding.rule.id == "DBX018" and finding.waived
    assert finding.waiver.owner == "@acme/mlops-platform"
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
        evaluate(weakened_dev(), load_policies(policies_dir), TODAY)


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
        GuardrailsError, match=r"rules.DBX003.sevirity: unknown key; got 'sevirity'; allowed: envs, fix, name"
    ):
        load_policies(policies_dir)


def test_fails_unknown_key_in_deploy_task(policies_dir: Path) -> None:
    edit(
        policies_dir / "guardrails/params.yaml", lambda d: d["defaults"]["deploy_task"].update(entrypoint="x")
    )
    with pytest.raises(
        GuardrailsError,
        match=r"defaults.deploy_task.entrypoint: unknown key; got 'entrypoint'; allowed: endpoint_",
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


# --- waiver limits: a lifetime from the params, an owner from ownership.yaml, all at once ---------


def test_fails_waiver_that_expires_in_2999(policies_dir: Path) -> None:
    waive(policies_dir, expires="2999-12-31")
    with pytest.raises(GuardrailsError) as exc:
        evaluate(weakened_dev(), load_policies(policies_dir), TODAY)
    assert str(exc.value) == (
        f"{policies_dir}/guardrails/waivers.yaml: waivers[0].expires: waiver for DBX018 on "
        "databricks_job.dev_jobs_churn expires more than 90 days ahead "
        f"({policies_dir}/guardrails/params.yaml: defaults.max_waiver_days); got '2999-12-31'; "
        "allowed: until 2026-08-30"
    )


def test_fails_waiver_owned_by_someone_not_in_ownership(policies_dir: Path) -> None:
    waive(policies_dir, owner="bob")
    with pytest.raises(
        GuardrailsError,
        match=r"waivers\[0\].owner: not a team of policies/ownership.yaml; "
        r"got 'bob'; allowed: @acme/mlops-platform, @acme/mlops-leads, @acme/security",
    ):
        evaluate(weakened_dev(), load_policies(policies_dir), TODAY)


def test_reports_every_waiver_problem_at_once(policies_dir: Path) -> None:
    waivers = [
        {
            "rule": "DBX998",
            "env": "dev",
            "resource": "databricks_job.dev_jobs_churn",
            "reason": "unknown rule id here",
            "owner": "@acme/security",
            "expires": "2026-07-01",
        },
        {
            "rule": "DBX018",
            "env": "qa",
            "resource": "databricks_job.dev_jobs_churn",
            "reason": "unknown environment",
            "owner": "mallory",
            "expires": "2999-01-01",
        },
        {
            "rule": "DBX018",
            "env": "dev",
            "resource": "databricks_job.dev_jobs_churm",
            "reason": "typo in the resource",
            "owner": "@acme/security",
            "expires": "2026-05-01",
        },
    ]
    (policies_dir / "guardrails" / "waivers.yaml").write_text(yaml.safe_dump({"waivers": waivers}))
    with pytest.raises(GuardrailsError) as exc:
        evaluate(weakened_dev(), load_policies(policies_dir), TODAY)
    where = sorted(p.split(": ")[1] for p in exc.value.problems)
    assert where == [
        "waivers[0].rule",
        "waivers[1].env",
        "waivers[1].owner",
        "waivers[2].expires",
        "waivers[2].resource",
    ]


def test_fails_waiver_lifetime_loosened_past_its_floor(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/params.yaml", lambda d: d["defaults"].update(max_waiver_days=3650))
    with pytest.raises(FloorError, match=r"defaults.max_waiver_days: 3650 is above its floor 180"):
        load_policies(policies_dir)


# --- floors: the gate's own limits --------------------------------------------------------------


def test_fails_prod_caps_raised_past_their_floors_naming_the_security_owner(policies_dir: Path) -> None:
    edit(
        policies_dir / "guardrails/params.yaml", lambda d: d["envs"]["prod"].update(max_dbus_per_hour=100000)
    )
    with pytest.raises(FloorError) as exc:
        load_policies(policies_dir)
    assert exc.value.problems == (
        f"{policies_dir}/guardrails/params.yaml: envs.prod.max_dbus_per_hour: 100000 is above its floor "
        "200 (floors.max_dbus_per_hour); a floor moves only with @acme/security's approval",
    )
    # What loaded anyway is kept for the review, which shows the change as a blocking loosening.
    assert exc.value.policies.params["prod"].max_dbus_per_hour == 100000


@pytest.mark.parametrize(
    ("change", "where", "why"),
    [
        (lambda d: d["defaults"].update(required_tags=["team"]), "defaults.required_tags", "drops"),
        (
            lambda d: d["envs"]["prod"].update(max_token_lifetime_days=365),
            "envs.prod.max_token_lifetime_days",
            "above its floor 90",
        ),
        (
            lambda d: d["defaults"]["workspace_settings"].update(enableExportNotebook=True),
            "defaults.workspace_settings",
            "relaxes ['enableExportNotebook']",
        ),
        (
            lambda d: d["defaults"].update(gpu_job_min_interval_minutes=1),
            "defaults.gpu_job_min_interval_minutes",
            "below its floor 60",
        ),
        (
            lambda d: d["defaults"]["allowed_access_modes"].append("NONE"),
            "defaults.allowed_access_modes",
            "admits ['NONE']",
        ),
    ],
)
def test_fails_any_param_looser_than_its_floor(policies_dir: Path, change, where: str, why: str) -> None:
    edit(policies_dir / "guardrails/params.yaml", change)
    with pytest.raises(FloorError, match=rf"params.yaml: {where}: .*{re.escape(why)}"):
        load_policies(policies_dir)


def test_passes_params_tightened_below_the_floor(policies_dir: Path) -> None:
    edit(policies_dir / "guardrails/params.yaml", lambda d: d["envs"]["prod"].update(max_dbus_per_hour=50))
    assert load_policies(policies_dir).params["prod"].max_dbus_per_hour == 50


def test_fails_ownership_approver_that_is_not_a_team(policies_dir: Path) -> None:
    path = policies_dir / "ownership.yaml"
    path.write_text(path.read_text().replace('approvers: ["@acme/finops"]', 'approvers: ["@acme/finopz"]'))
    with pytest.raises(
        GuardrailsError, match=r"ownership.yaml: <root>: .*\['@acme/finopz'\] are not in teams"
    ):
        load_policies(policies_dir)
