"""Table, JSON and SARIF 2.1.0 renderings of the same report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from infra.guardrails import Report, Severity
from infra.guardrails.model import Waiver
from infra.guardrails.render import table, to_json, to_sarif
from tests.guardrails.builders import platform


@pytest.fixture
def weakened_report(run: Callable[..., Report]) -> Report:
    stack = platform("prod")
    job = stack.get("databricks_job.prod_jobs_churn")
    job["job_cluster"][0]["new_cluster"]["data_security_mode"] = "NONE"
    job.pop("email_notifications")
    return run(stack)


def test_table_names_rule_resource_and_fix(weakened_report: Report) -> None:
    text = table(weakened_report, Severity.low)
    assert "FAIL   critical DBX001 prod    databricks_job.prod_jobs_churn" in text
    assert "fix: Set data_security_mode" in text
    assert text.rstrip().endswith("2 at or above low: FAIL")


def test_table_marks_findings_below_fail_on_as_warnings(weakened_report: Report) -> None:
    text = table(weakened_report, Severity.high)
    assert "warn   medium   DBX018" in text
    assert text.rstrip().endswith("1 at or above high: FAIL")


def test_json_lists_findings_and_summary(weakened_report: Report) -> None:
    doc = json.loads(to_json(weakened_report, Severity.low))
    assert doc["summary"]["failing"] == 2 and doc["summary"]["passed"] is False
    assert {f["rule_id"] for f in doc["findings"]} == {"DBX001", "DBX018"}
    assert all(f["fix"] and f["address"] == "databricks_job.prod_jobs_churn" for f in doc["findings"])


def test_sarif_shape(weakened_report: Report) -> None:
    doc = json.loads(to_sarif(weakened_report, Severity.low))
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    assert all(r["shortDescription"]["text"] and r["help"]["text"] for r in rules)
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"DBX001": "error", "DBX018": "warning"}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        # The location names the resource; the message does not repeat it (issue 13).
        assert "prod_jobs_churn" not in result["message"]["text"]
        assert result["message"]["text"].startswith("[prod] ")
        logical = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert logical == "prod/databricks_job.prod_jobs_churn"
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "prod/cdk.tf.json"
        assert location["region"]["startLine"] >= 1


def test_sarif_marks_waived_findings_as_suppressed(run: Callable[..., Report]) -> None:
    stack = platform("dev")
    stack.get("databricks_job.dev_jobs_churn").pop("timeout_seconds")
    report = run(stack)
    waiver = Waiver(
        "DBX018", "dev", "databricks_job.dev_jobs_churn", "backfill runs long", "mlops", date(2026, 12, 31), 0
    )
    report.findings = [replace(f, waiver=waiver) for f in report.findings]
    (result,) = json.loads(to_sarif(report, Severity.low))["runs"][0]["results"]
    assert result["suppressions"][0]["kind"] == "external"
    assert "backfill runs long" in result["suppressions"][0]["justification"]


def test_sarif_validates_against_the_shape_github_requires(weakened_report: Report) -> None:
    """A minimal structural schema (the official one needs network to fetch)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "required": ["version", "$schema", "runs"],
        "properties": {
            "version": {"const": "2.1.0"},
            "runs": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["tool", "results"],
                    "properties": {
                        "tool": {
                            "type": "object",
                            "required": ["driver"],
                            "properties": {
                                "driver": {
                                    "type": "object",
                                    "required": ["name", "rules"],
                                    "properties": {
                                        "rules": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": ["id", "shortDescription"],
                                            },
                                        }
                                    },
                                }
                            },
                        },
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["ruleId", "level", "message", "locations"],
                                "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]},
                                    "message": {"type": "object", "required": ["text"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
    jsonschema.validate(json.loads(to_sarif(weakened_report, Severity.low)), schema)


def test_findings_name_what_they_were_held_against_and_where_it_is_set(weakened_report: Report) -> None:
    (dbx001,) = [f for f in weakened_report.findings if f.rule.id == "DBX001"]
    assert dbx001.held_against == (
        "allowed_access_modes = ['SINGLE_USER', 'USER_ISOLATION', 'DATA_SECURITY_MODE_AUTO', "
        "'DATA_SECURITY_MODE_STANDARD', 'DATA_SECURITY_MODE_DEDICATED'] "
        "(policies/guardrails/params.yaml: defaults.allowed_access_modes)",
    )
    text = table(weakened_report, Severity.low)
    assert "held against: allowed_access_modes = ['SINGLE_USER'" in text
    doc = json.loads(to_json(weakened_report, Severity.low))
    assert {tuple(f["held_against"]) for f in doc["findings"]} >= {dbx001.held_against}
    sarif = json.loads(to_sarif(weakened_report, Severity.low))["runs"][0]["results"]
    assert any("Held against allowed_access_modes" in r["message"]["text"] for r in sarif)


def test_env_override_is_named_as_the_setting_held_against(run: Callable[..., Report]) -> None:
    stack = platform("prod")
    definition = json.loads(stack.get("databricks_cluster_policy.prod_policies_cpu")["definition"])
    definition["autoscale.max_workers"]["maxValue"] = 64
    stack.get("databricks_cluster_policy.prod_policies_cpu")["definition"] = json.dumps(definition)
    (finding,) = run(stack).findings
    assert finding.rule.id == "DBX006"
    assert "max_workers = 32 (policies/guardrails/params.yaml: envs.prod.max_workers)" in finding.held_against


def test_messages_never_start_with_the_address_they_are_filed_under(run: Callable[..., Report]) -> None:
    stack = platform("prod")
    stack.get("databricks_job.prod_jobs_churn")["task"][0]["existing_cluster_id"] = "0101-abc"
    report = run(stack)
    assert report.findings
    for finding in report.findings:
        assert not finding.message.startswith(finding.address), finding.message
