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
        assert "prod_jobs_churn" in result["message"]["text"]
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
