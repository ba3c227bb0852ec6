"""Policy-as-code over synthesized Terraform JSON: Databricks governance rules with waivers.

Reads ``cdk.tf.json`` and ``terraform show -json`` plans only; never imports cdktf or the stacks.

    from infra.guardrails import load_policies, resources_from_doc, evaluate
    resources = resources_from_doc(json.loads(Testing.synth(stack)), "dev")
    report = evaluate(resources, load_policies(Path("policies")))
    assert not report.unwaived(), report.findings
"""

from __future__ import annotations

from typing import Any

from infra.guardrails.engine import check_paths, evaluate
from infra.guardrails.errors import GuardrailsError
from infra.guardrails.inputs import is_plan, load_file, load_paths, plan_resources, synth_resources
from infra.guardrails.model import Finding, Report, Resource, RuleSpec, Severity, Waiver
from infra.guardrails.policy_files import EnvParams, Policies, load_policies


def resources_from_doc(doc: dict[str, Any], env: str, source: str = "<memory>") -> list[Resource]:
    """Resources from an already parsed cdk.tf.json or plan document (e.g. ``Testing.synth`` output)."""
    return list(plan_resources(doc, env, source) if is_plan(doc) else synth_resources(doc, env, source))


__all__ = [
    "EnvParams",
    "Finding",
    "GuardrailsError",
    "Policies",
    "Report",
    "Resource",
    "RuleSpec",
    "Severity",
    "Waiver",
    "check_paths",
    "evaluate",
    "load_file",
    "load_paths",
    "load_policies",
    "resources_from_doc",
]
