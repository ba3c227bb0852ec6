"""Both input kinds normalise to the same resources; unusable input is an error, never a pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.guardrails import GuardrailsError, Policies, evaluate
from infra.tfdoc import DocumentError, discover, load_file, resources_from_doc
from tests.guardrails.builders import TODAY, platform, policy_definition


def plan_doc(
    resources: list[dict[str, Any]], *, config: list[dict[str, Any]] = (), changes=(), child=()
) -> dict:
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {
            "root_module": {"resources": resources, "child_modules": list(child)},
            "outputs": {},
        },
        "resource_changes": list(changes),
        "configuration": {"root_module": {"resources": list(config)}},
    }


def planned(rtype: str, name: str, values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    return {
        "address": f"{prefix}{rtype}.{name}",
        "mode": "managed",
        "type": rtype,
        "name": name,
        "values": values,
    }


def job_values(policy_id: str | None) -> dict[str, Any]:
    return {
        "name": "train",
        "timeout_seconds": 3600,
        "max_concurrent_runs": 1,
        "email_notifications": [{"on_failure": ["a@example.com"]}],
        "tags": {"team": "t", "cost_center": "c", "env": "dev"},
        "job_cluster": [
            {
                "job_cluster_key": "main",
                "new_cluster": [
                    {
                        "policy_id": policy_id,
                        "spark_version": "16.4.x-cpu-ml-scala2.12",
                        "node_type_id": "m5d.large",
                        "data_security_mode": "SINGLE_USER",
                    }
                ],
            }
        ],
    }


def policy_values() -> dict[str, Any]:
    return {"name": "dev-cpu", "definition": json.dumps(policy_definition("dev"))}


def test_plan_resolves_a_policy_id_that_is_unknown_until_apply(run_doc: Callable[..., Any]) -> None:
    doc = plan_doc(
        [
            planned("databricks_cluster_policy", "cpu", policy_values()),
            planned("databricks_job", "train", job_values(None)),
        ],
        config=[
            {
                "address": "databricks_job.train",
                "expressions": {
                    "job_cluster": [
                        {
                            "new_cluster": [
                                {"policy_id": {"references": ["databricks_cluster_policy.cpu.id", "x"]}}
                            ]
                        }
                    ]
                },
            }
        ],
    )
    findings = run_doc(doc, "dev")
    assert [f for f in findings if f.rule.id in ("DBX004", "DBX001", "DBX013")] == []


def test_fails_plan_job_without_policy(run_doc: Callable[..., Any]) -> None:
    doc = plan_doc(
        [
            planned("databricks_cluster_policy", "cpu", policy_values()),
            planned("databricks_job", "t", job_values(None)),
        ]
    )
    assert "DBX004" in {f.rule.id for f in run_doc(doc, "dev")}


def test_plan_child_module_resources_are_checked(run_doc: Callable[..., Any]) -> None:
    child = {
        "address": "module.ml",
        "resources": [planned("databricks_secret", "s", {"string_value": "x"}, "module.ml.")],
    }
    doc = plan_doc([], child=[child])
    hits = [f for f in run_doc(doc, "dev") if f.rule.id == "DBX003"]
    assert [f.address for f in hits] == ["module.ml.databricks_secret.s"]


def test_fails_plan_that_destroys_a_prod_catalog(run_doc: Callable[..., Any]) -> None:
    change = {
        "address": "databricks_catalog.main",
        "mode": "managed",
        "type": "databricks_catalog",
        "name": "main",
        "change": {"actions": ["delete"], "before": {"name": "prod"}, "after": None},
    }
    hits = [f for f in run_doc(plan_doc([], changes=[change]), "prod") if f.rule.id == "DBX019"]
    assert [(f.address, f.message) for f in hits] == [("databricks_catalog.main", "the plan destroys it")]


def test_plan_input_notes_that_lifecycle_is_not_visible(policies: Policies) -> None:
    doc = plan_doc([planned("databricks_catalog", "main", {"name": "prod"})])
    report = evaluate(resources_from_doc(doc, "prod"), policies, TODAY)
    assert not [f for f in report.findings if f.rule.id == "DBX019"]
    assert any("lifecycle" in note for note in report.notes)


def test_synth_env_comes_from_the_stack_directory(tmp_path: Path) -> None:
    path = platform("staging").write(tmp_path)
    resources = load_file(path)
    assert {r.env for r in resources} == {"staging"}
    job = next(r for r in resources if r.type == "databricks_job")
    assert job.construct_path == "staging/jobs/churn/Resource"
    catalog = next(r for r in resources if r.type == "databricks_catalog")
    assert catalog.lifecycle == {}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "invalid JSON"),
        ("[]", "expected a JSON object"),
        ('{"hello": 1}', "neither a cdk.tf.json nor"),
        ('{"resource": {"databricks_job": []}}', "resource.databricks_job: expected an object"),
        ('{"resource": {"databricks_job": {"j": "x"}}}', "resource.databricks_job.j: expected an object"),
        ("", "invalid JSON"),
    ],
)
def test_fails_unusable_input(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "dev" / "cdk.tf.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(DocumentError, match=expected) as exc:
        load_file(path)
    assert str(path) in str(exc.value)


def test_fails_plan_without_env(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan_doc([])))
    with pytest.raises(DocumentError, match="--env"):
        load_file(path)


def test_fails_when_nothing_was_synthesized(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="make synth"):
        discover(tmp_path)


def test_fails_unknown_environment(policies: Policies) -> None:
    with pytest.raises(GuardrailsError, match=r"'qa'.*allowed: dev, staging, prod"):
        evaluate(resources_from_doc(platform("dev").doc, "qa", "qa/cdk.tf.json"), policies, TODAY)


# --- sensitive values in plans ------------------------------------------------------------------


def _destination_plan(marked: bool) -> dict:
    """A plan whose Slack URL came from the sensitive notification_urls variable: Terraform keeps the
    value in ``terraform show -json`` and marks it in ``sensitive_values`` (and ``after_sensitive``)."""
    url = "https://hooks.slack.com/services/T0000000/B0000000/abcdefghijklmnopqrstuvwx"
    values = {"display_name": "oncall", "config": [{"slack": [{"url": url}]}]}
    resource = planned("databricks_notification_destination", "oncall", values)
    marks = {"config": [{"slack": [{"url": True}]}]}
    change = {"address": resource["address"], "change": {"actions": ["create"], "after": values}}
    if marked:
        resource["sensitive_values"] = marks
        change["change"]["after_sensitive"] = marks
    return plan_doc([resource], changes=[change])


def test_a_sensitive_plan_value_is_masked_never_reported_as_a_secret(run_doc: Callable[..., Any]) -> None:
    findings = run_doc(_destination_plan(marked=True), "prod")
    assert {f.rule.id for f in findings} & {"DBX003", "DBX117"} == set()
    (res,) = [r for r in resources_from_doc(_destination_plan(marked=True), "prod") if r.mode == "managed"]
    assert "hooks.slack.com" not in json.dumps(res.values)


def test_fails_the_same_url_when_the_plan_does_not_mark_it_sensitive(run_doc: Callable[..., Any]) -> None:
    findings = run_doc(_destination_plan(marked=False), "prod")
    assert {"DBX003", "DBX117"} <= {f.rule.id for f in findings}
